using System.Runtime.InteropServices;

namespace Metering.Analytics.ChDb;

/// <summary>
/// Saves and restores the process's handlers for the deadly signals around a native call.
/// Upstream chDB sources after 26.7 make <c>chdb_set_signal_handlers_enabled(0)</c> reset SIGSEGV, SIGBUS, SIGFPE, ...
/// to their defaults as a side effect; the .NET runtime relies on its SIGSEGV handler to turn null dereferences into
/// NullReferenceException, so the runtime's handlers are put back right after. With the pinned 26.7.3 the handlers
/// were checked to be unchanged by the call (the restore is then a no-op); it stays as a guard for library upgrades.
/// </summary>
internal static partial class SignalDispositions
{
    // SIGABRT, SIGSEGV, SIGILL, SIGBUS, SIGSYS, SIGFPE, SIGTSTP, SIGTRAP on Linux.
    private static readonly int[] Signals = [6, 11, 4, 7, 31, 8, 20, 5];

    // struct sigaction is 152 bytes on glibc x86-64 and aarch64; a larger buffer is harmless.
    private const int SigactionSize = 256;

    public static void PreserveAround(Action action)
    {
        if (!OperatingSystem.IsLinux())
        {
            action();
            return;
        }

        var saved = new byte[Signals.Length][];
        for (var i = 0; i < Signals.Length; i++)
        {
            saved[i] = new byte[SigactionSize];
            if (Sigaction(Signals[i], null, saved[i]) != 0)
            {
                saved[i] = null!;
            }
        }

        action();
        for (var i = 0; i < Signals.Length; i++)
        {
            if (saved[i] is { } old)
            {
                _ = Sigaction(Signals[i], old, null);
            }
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "sigaction")]
    private static partial int Sigaction(int signal, byte[]? action, byte[]? oldAction);
}

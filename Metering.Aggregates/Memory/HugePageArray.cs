using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Metering.Aggregates.Memory;

/// <summary>
/// Allocates the big hash tables (the aggregate slots, the dedup entries) pinned and, on Linux, advises the kernel
/// to back them with transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>; honoured when THP is "always" or
/// "madvise", a no-op otherwise). Why: a table of hundreds of MB probed at random touches every 4 KiB page, and each
/// first touch is a read (probe) then a write (claim), which maps the shared zero page and then replaces it: a
/// copy-on-write fault plus a TLB shootdown interrupt on every other core the process runs on. On two cores that
/// was most of the aggregating thread's time on a month of out-of-order usage; 2 MiB pages make those faults 512x
/// rarer and keep the whole table within the TLB. The advice changes no value: the memory is zeroed either way.
/// </summary>
internal static partial class HugePageArray
{
    private const int MadvHugePage = 14;
    private const int MadvPopulateWrite = 23;
    private const long HugePageBytes = 2 << 20;

    /// <summary>A zeroed, pinned array of <paramref name="length"/> elements, advised to use huge pages when it spans several.</summary>
    public static T[] Allocate<T>(int length)
        where T : unmanaged
    {
        var bytes = (long)length * Unsafe.SizeOf<T>();
        if (bytes < 4 * HugePageBytes || !OperatingSystem.IsLinux())
        {
            return new T[length];
        }

        var array = GC.AllocateArray<T>(length, pinned: true);
        Advise(array, bytes);
        return array;
    }

    private static unsafe void Advise<T>(T[] array, long bytes)
        where T : unmanaged
    {
        var start = (long)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        var alignedStart = (start + HugePageBytes - 1) & ~(HugePageBytes - 1);
        var alignedEnd = (start + bytes) & ~(HugePageBytes - 1);
        if (alignedEnd > alignedStart)
        {
            // Advice only: a kernel without THP (or a sandbox refusing madvise) leaves 4 KiB pages, which still work.
            _ = Madvise((nint)alignedStart, (nuint)(alignedEnd - alignedStart), MadvHugePage);

            // Fault the pages in on a thread of their own (MADV_POPULATE_WRITE, Linux 5.14+; refused harmlessly before),
            // so the first records do not pay for hundreds of MB of first-touch faults while the engine starts: this
            // was most of the ~5 s between the first record and the first flush. It changes no value (the pages are
            // mapped zeroed, as a first write would map them), so the owner may write the array meanwhile. The
            // array is pinned, so its address stays valid; the reference keeps it alive until the thread is done.
            var (address, length) = ((nint)alignedStart, (nuint)(alignedEnd - alignedStart));
            var populate = new Thread(() =>
            {
                _ = Madvise(address, length, MadvPopulateWrite);
                GC.KeepAlive(array);
            })
            {
                IsBackground = true,
                Name = "huge-page populate",
                Priority = ThreadPriority.BelowNormal,
            };
            populate.Start();
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(nint address, nuint length, int advice);
}

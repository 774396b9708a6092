using System.Runtime.InteropServices;

namespace Metering.Analytics.ChDb;

/// <summary>
/// The C API of <c>libchdb.so</c> (chdb.h of chDB 26.7), bound at run time with <see cref="NativeLibrary"/> and
/// unmanaged function pointers so that the library is located by <see cref="ChDbLibraryLocator"/> rather than by the
/// loader's search path. Loaded once per process; never unloaded (the engine keeps global state).
/// </summary>
internal static unsafe class ChDbNative
{
    private static readonly Lock Gate = new();
    private static Api? _api;

    /// <summary>The resolved entry points.</summary>
    internal sealed class Api
    {
        public required string Path { get; init; }
        public required delegate* unmanaged<int, byte**, nint> Connect { get; init; }
        public required delegate* unmanaged<nint, void> CloseConn { get; init; }
        public required delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nint> QueryN { get; init; }
        public required delegate* unmanaged<nint, byte*, byte*, byte**, byte**, nuint, nint> QueryWithParams { get; init; }
        public required delegate* unmanaged<nint, void> DestroyQueryResult { get; init; }
        public required delegate* unmanaged<nint, byte*> ResultBuffer { get; init; }
        public required delegate* unmanaged<nint, nuint> ResultLength { get; init; }
        public required delegate* unmanaged<nint, byte*> ResultError { get; init; }
        public required delegate* unmanaged<nint, ulong> ResultRowsWritten { get; init; }
        public required delegate* unmanaged<int, void> SetSignalHandlersEnabled { get; init; }
        public required delegate* unmanaged<byte*> Version { get; init; }
        public required delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nint> StreamInsertN { get; init; }
        public required delegate* unmanaged<nint, byte*, nuint, int> StreamAppend { get; init; }
        public required delegate* unmanaged<nint, nint> StreamDone { get; init; }
        public required delegate* unmanaged<nint, byte*> StreamInsertError { get; init; }
        public required delegate* unmanaged<nint, void> DestroyInsertStream { get; init; }
    }

    /// <summary>Loads the library (once) and resolves every entry point; throws with the searched paths when absent.</summary>
    public static Api Load()
    {
        lock (Gate)
        {
            if (_api is not null)
            {
                return _api;
            }

            var path = ChDbLibraryLocator.Locate();
            var handle = NativeLibrary.Load(path);
            _api = new Api
            {
                Path = path,
                Connect = (delegate* unmanaged<int, byte**, nint>)NativeLibrary.GetExport(handle, "chdb_connect"),
                CloseConn = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(handle, "chdb_close_conn"),
                QueryN = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nint>)NativeLibrary.GetExport(handle, "chdb_query_n"),
                QueryWithParams = (delegate* unmanaged<nint, byte*, byte*, byte**, byte**, nuint, nint>)NativeLibrary.GetExport(handle, "chdb_query_with_params"),
                DestroyQueryResult = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(handle, "chdb_destroy_query_result"),
                ResultBuffer = (delegate* unmanaged<nint, byte*>)NativeLibrary.GetExport(handle, "chdb_result_buffer"),
                ResultLength = (delegate* unmanaged<nint, nuint>)NativeLibrary.GetExport(handle, "chdb_result_length"),
                ResultError = (delegate* unmanaged<nint, byte*>)NativeLibrary.GetExport(handle, "chdb_result_error"),
                ResultRowsWritten = (delegate* unmanaged<nint, ulong>)NativeLibrary.GetExport(handle, "chdb_result_rows_written"),
                SetSignalHandlersEnabled = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(handle, "chdb_set_signal_handlers_enabled"),
                Version = (delegate* unmanaged<byte*>)NativeLibrary.GetExport(handle, "chdb_version"),
                StreamInsertN = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nint>)NativeLibrary.GetExport(handle, "chdb_stream_insert_n"),
                StreamAppend = (delegate* unmanaged<nint, byte*, nuint, int>)NativeLibrary.GetExport(handle, "chdb_stream_append"),
                StreamDone = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(handle, "chdb_stream_done"),
                StreamInsertError = (delegate* unmanaged<nint, byte*>)NativeLibrary.GetExport(handle, "chdb_stream_insert_error"),
                DestroyInsertStream = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(handle, "chdb_destroy_insert_stream"),
            };
            return _api;
        }
    }
}

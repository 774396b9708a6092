using System.Reflection;
using System.Runtime.InteropServices;

namespace Metering.DevKit.Kafka;

/// <summary>
/// P/Invoke into librdkafka's mock-cluster API, bound to the very same native file Confluent.Kafka uses.
/// On Debian the default <c>librdkafka.so</c> of librdkafka.redist needs libsasl2.so.3, which Debian lacks, so the
/// CentOS 8 build is used; both our calls and Confluent.Kafka's must go to one loaded copy, or the mock cluster's
/// handles would belong to a different library instance than the clients that talk to it.
/// </summary>
internal static partial class LibrdkafkaNative
{
    private const string Library = "librdkafka";
    private static readonly Lock Gate = new();
    private static string? _path;

    /// <summary>Picks the first loadable librdkafka build, tells Confluent.Kafka to use it, and routes our imports to it.</summary>
    public static string EnsureLoaded()
    {
        lock (Gate)
        {
            if (_path is not null)
            {
                return _path;
            }

            // A portable build keeps the natives under runtimes/<rid>/native; a RID-specific publish (the container
            // image: dotnet publish -r linux-x64) puts them next to the program.
            var dir = Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier.StartsWith("linux-arm64", StringComparison.Ordinal) ? "linux-arm64" : "linux-x64", "native");
            if (!Directory.Exists(dir))
            {
                dir = AppContext.BaseDirectory;
            }

            var failures = new List<string>();
            foreach (var candidate in new[] { "librdkafka.so", "centos8-librdkafka.so", "alpine-librdkafka.so" })
            {
                var path = Path.Combine(dir, candidate);
                if (!File.Exists(path))
                {
                    failures.Add($"{candidate}: missing");
                    continue;
                }

                try
                {
                    NativeLibrary.Free(NativeLibrary.Load(path));
                }
                catch (DllNotFoundException e)
                {
                    failures.Add($"{candidate}: {e.Message}");
                    continue;
                }

                // Confluent.Kafka probes the same files in the same order (its own Library.Load needs a libdl.so
                // symlink that Debian lacks), so the first loadable build is the one both of us use: dlopen of one
                // path yields one library instance.
                NativeLibrary.SetDllImportResolver(typeof(LibrdkafkaNative).Assembly, Resolve);
                _path = path;
                return path;
            }

            throw new DllNotFoundException($"could not load librdkafka from {dir}: {string.Join("; ", failures)}");
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == Library && _path is not null ? NativeLibrary.Load(_path) : IntPtr.Zero;

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_mock_cluster_destroy(IntPtr cluster);

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(IntPtr cluster, string topic, int partitions, int replicationFactor);

    [LibraryImport(Library)]
    internal static partial int rd_kafka_mock_broker_set_down(IntPtr cluster, int brokerId);

    [LibraryImport(Library)]
    internal static partial int rd_kafka_mock_broker_set_up(IntPtr cluster, int brokerId);

    [LibraryImport(Library)]
    internal static partial int rd_kafka_mock_broker_set_rtt(IntPtr cluster, int brokerId, int rttMs);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_mock_push_request_errors_array(IntPtr cluster, short apiKey, nuint count, int[] errors);

    [LibraryImport(Library)]
    internal static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr cluster, int delayMs);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_delete_records(IntPtr cluster, string topic, int partition, long beforeOffset);

    [LibraryImport(Library)]
    internal static partial IntPtr rd_kafka_err2str(int err);
}

using System.Text;

namespace Metering.UnitTests.Kafka;

/// <summary>
/// Kafka's default partitioner written independently of librdkafka and of the engine: positive(murmur2(key)) %
/// partitions. Shared with the integration tests, which check real producers against it.
/// </summary>
internal static class ReferenceMurmur2
{
    /// <summary>Kafka's <c>Utils.murmur2</c> (Java), in unsigned arithmetic.</summary>
    public static int Murmur2(byte[] data)
    {
        const uint M = 0x5bd1e995;
        unchecked
        {
            var length = data.Length;
            var h = 0x9747b28c ^ (uint)length;
            for (var i = 0; i + 4 <= length; i += 4)
            {
                var k = data[i] | ((uint)data[i + 1] << 8) | ((uint)data[i + 2] << 16) | ((uint)data[i + 3] << 24);
                k *= M;
                k ^= k >> 24;
                k *= M;
                h *= M;
                h ^= k;
            }

            var tail = length & ~3;
            switch (length % 4)
            {
                case 3:
                    h ^= (uint)data[tail + 2] << 16;
                    goto case 2;
                case 2:
                    h ^= (uint)data[tail + 1] << 8;
                    goto case 1;
                case 1:
                    h ^= data[tail];
                    h *= M;
                    break;
            }

            h ^= h >> 13;
            h *= M;
            h ^= h >> 15;
            return (int)h;
        }
    }

    public static int JavaPartition(string key, int partitions) => (Murmur2(Encoding.UTF8.GetBytes(key)) & 0x7fffffff) % partitions;
}

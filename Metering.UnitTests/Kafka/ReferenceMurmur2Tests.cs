namespace Metering.UnitTests.Kafka;

/// <summary>The reference partitioner the producer tests rely on agrees with Kafka's own test vectors.</summary>
public sealed class ReferenceMurmur2Tests
{
    [Fact]
    public void The_reference_murmur2_matches_the_values_of_Kafkas_own_tests()
    {
        Assert.Equal(-973932308, ReferenceMurmur2.Murmur2("21"u8.ToArray()));
        Assert.Equal(-790332482, ReferenceMurmur2.Murmur2("foobar"u8.ToArray()));
        Assert.Equal(-985981536, ReferenceMurmur2.Murmur2("a-little-bit-long-string"u8.ToArray()));
        Assert.Equal(-1486304829, ReferenceMurmur2.Murmur2("a-little-bit-longer-string"u8.ToArray()));
        Assert.Equal(-58897971, ReferenceMurmur2.Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"u8.ToArray()));
        Assert.Equal(479470107, ReferenceMurmur2.Murmur2("abc"u8.ToArray()));
    }
}

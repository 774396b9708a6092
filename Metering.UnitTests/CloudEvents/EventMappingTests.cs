using System.Text;
using Metering.Ingest.CloudEvents;

namespace Metering.UnitTests.CloudEvents;

public class EventMappingTests
{
    private static IReadOnlyList<string> Problems(string json) =>
        EventMapping.Validate(Encoding.UTF8.GetBytes(json)).Errors.Select(e => e.ToString()).ToList();

    [Fact]
    public void A_valid_mapping_names_each_type_with_its_sku_and_sources()
    {
        var mapping = CloudEventTestKit.Mapping();

        Assert.True(mapping.TryGet("com.example.cdn.egress", out var egress));
        Assert.Equal("cdn.egress.bytes", egress.Sku);
        Assert.Equal("subject", egress.Account.Attribute);
        Assert.Null(egress.Quantity.Attribute);
        Assert.Equal(["region", "origin", "tier"], egress.Dimensions.Select(d => d.Key));
        Assert.False(mapping.TryGet("com.example.other", out _));
    }

    [Fact]
    public void Every_problem_is_reported_with_its_json_path()
    {
        var problems = Problems("""
            {"types": {
              "a": {"sku": "x/y", "account": "Subject", "quantity": "$.a..b", "colour": 1},
              "b": {"account": "subject", "quantity": "$.n", "dimensions": {"k=v": "$.k", "ok": 3}},
              "c": {"sku": "s", "account": "data", "quantity": "$['unterminated"}
            }, "extra": true}
            """);

        Assert.Contains(problems, p => p.StartsWith("$.types[\"a\"].sku: sku contains '/'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("$.types[\"a\"].account: 'Subject' is neither a JSON path", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("$.types[\"a\"].quantity: '$.a..b': an empty member name", StringComparison.Ordinal));
        Assert.Contains("$.types[\"a\"].colour: unknown member (expected sku, account, quantity, dimensions)", problems);
        Assert.Contains("$.types[\"b\"].sku: missing", problems);
        Assert.Contains(problems, p => p.StartsWith("$.types[\"b\"].dimensions[\"k=v\"]: a dimension name must be 1-64 bytes without '='", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("$.types[\"b\"].dimensions[\"ok\"]: must be a string", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("$.types[\"c\"].account: 'data' describes the event", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("$.types[\"c\"].quantity: '$['unterminated': a quoted member name", StringComparison.Ordinal));
        Assert.Contains("$.extra: unknown member (expected \"types\")", problems);
        Assert.Equal(10, problems.Count);
    }

    [Theory]
    [InlineData("[]", "$: the mapping must be a JSON object")]
    [InlineData("{}", "$.types: missing")]
    [InlineData("""{"types":{}}""", "$.types: empty")]
    [InlineData("""{"types":""", "$: not valid JSON")]
    public void A_mapping_without_types_is_refused(string json, string problem)
    {
        var (mapping, errors) = EventMapping.Validate(Encoding.UTF8.GetBytes(json));

        Assert.Null(mapping);
        Assert.StartsWith(problem, Assert.Single(errors).ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("$", true)]
    [InlineData("$.usage.bytes", true)]
    [InlineData("$['bytes.out']", true)]
    [InlineData("$.items[1].n", true)]
    [InlineData("$.items[x]", false)]
    [InlineData("$usage", false)]
    [InlineData("tenant", true)]
    [InlineData("TENANT", false)]
    [InlineData("averyveryverylongname1", false)]
    public void A_source_is_a_json_path_into_data_or_an_attribute_name(string text, bool valid)
    {
        var source = ValueSource.Parse(text, out var error);

        Assert.Equal(valid, source is not null);
        Assert.Equal(valid, error is null);
    }
}

using MemoryService.Embeddings;
using Microsoft.Extensions.AI;

namespace MemoryService.Tests.Embeddings;

/// <summary>One MiniLM and one Arctic-xs generator for the whole class: models load once per process.</summary>
public sealed class LocalModelsFixture : IDisposable
{
    public LocalEmbeddingGenerator MiniLm { get; } = new(LocalModelSpec.MiniLm, threads: 2);
    public LocalEmbeddingGenerator Arctic { get; } = new(LocalModelSpec.ArcticXs, threads: 2);

    public void Dispose()
    {
        MiniLm.Dispose();
        Arctic.Dispose();
    }
}

public class LocalEmbeddingGeneratorTests(LocalModelsFixture models) : IClassFixture<LocalModelsFixture>
{
    private static double Cosine(ReadOnlyMemory<float> a, ReadOnlyMemory<float> b)
    {
        double dot = 0;
        for (var i = 0; i < a.Length; i++) dot += a.Span[i] * b.Span[i];
        return dot; // both are L2-normalised
    }

    [Fact]
    public async Task MiniLmReproducesTheModelCardVector()
    {
        var e = await models.MiniLm.GenerateAsync(["This is an example sentence"]);

        float[] expected = [0.0677f, 0.0635f, 0.0487f, 0.0793f, 0.0374f];
        for (var i = 0; i < expected.Length; i++) Assert.InRange(e[0].Vector.Span[i], expected[i] - 1e-3f, expected[i] + 1e-3f);
        Assert.Equal(384, e[0].Vector.Length);
        Assert.Equal(1.0, Math.Sqrt(Cosine(e[0].Vector, e[0].Vector)), 4);
    }

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic-xs")]
    public async Task ParaphrasesScoreAboveUnrelatedPairs(string name)
    {
        var g = name == "minilm" ? models.MiniLm : models.Arctic;
        var e = await g.GenerateAsync(["She prefers tea over coffee", "Her favourite drink is tea, not coffee",
            "The train to Berlin leaves at nine", "The Berlin train departs at 9 o'clock", "I replaced the brakes on my bike"]);

        var paraphrase1 = Cosine(e[0].Vector, e[1].Vector);
        var paraphrase2 = Cosine(e[2].Vector, e[3].Vector);
        foreach (var unrelated in new[] { Cosine(e[0].Vector, e[2].Vector), Cosine(e[0].Vector, e[4].Vector), Cosine(e[3].Vector, e[4].Vector) })
        {
            Assert.True(paraphrase1 > unrelated, $"{paraphrase1} <= {unrelated}");
            Assert.True(paraphrase2 > unrelated, $"{paraphrase2} <= {unrelated}");
        }
    }

    [Fact]
    public async Task QueryPrefixIsAppliedToQueriesOnly()
    {
        const string text = "what does she like to drink?";
        var asDocument = (await models.Arctic.GenerateAsync([text], EmbeddingInput.ForDocument))[0].Vector;
        var asQuery = (await models.Arctic.GenerateAsync([text], EmbeddingInput.ForQuery))[0].Vector;
        var prefixedDocument = (await models.Arctic.GenerateAsync([LocalModelSpec.ArcticXs.QueryPrefix + text], EmbeddingInput.ForDocument))[0].Vector;
        var plain = (await models.Arctic.GenerateAsync([text]))[0].Vector;

        Assert.True(Cosine(asQuery, prefixedDocument) > 0.9999, "a query is the prefixed text");
        Assert.True(Cosine(asDocument, plain) > 0.9999, "a document (the default) has no prefix");
        Assert.True(Cosine(asQuery, asDocument) < 0.999, "query and document differ");
        // MiniLM is symmetric: the kind changes nothing.
        var miniQ = (await models.MiniLm.GenerateAsync([text], EmbeddingInput.ForQuery))[0].Vector;
        var miniD = (await models.MiniLm.GenerateAsync([text], EmbeddingInput.ForDocument))[0].Vector;
        Assert.True(Cosine(miniQ, miniD) > 0.9999);
    }

    [Fact]
    public async Task LongTextsAreTruncatedNotRefused()
    {
        var longText = string.Join(' ', Enumerable.Repeat("tea coffee breakfast", 5000));
        var e = await models.MiniLm.GenerateAsync([longText, "short"]);

        Assert.Equal(384, e[0].Vector.Length);
        Assert.DoesNotContain(e[0].Vector.ToArray(), float.IsNaN);
    }

    [Fact]
    public async Task ConcurrentSingleRequestsShareModelCallsAndMatchAlone()
    {
        var texts = Enumerable.Range(0, 12).Select(i => $"Fact number {i} about trains").ToArray();
        var alone = await models.MiniLm.GenerateAsync(texts);
        var together = await Task.WhenAll(texts.Select(t => models.MiniLm.GenerateAsync([t])));

        for (var i = 0; i < texts.Length; i++) Assert.True(Cosine(alone[i].Vector, together[i][0].Vector) > 0.9999);
        Assert.NotEqual(LocalModelSpec.MiniLm.ModelId, LocalModelSpec.ArcticXs.ModelId);
    }
}

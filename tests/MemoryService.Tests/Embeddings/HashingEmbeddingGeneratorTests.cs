using MemoryService.Embeddings;
using Microsoft.Extensions.AI;

namespace MemoryService.Tests.Embeddings;

public class HashingEmbeddingGeneratorTests
{
    private const string GoldenText = "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.";

    // Changing tokenisation, hashing or weights changes every stored vector. If this fails on purpose,
    // bump HashingEmbeddingGenerator.AlgorithmVersion (so the model id changes) and update the checksum.
    private const string GoldenChecksum = "7e7c4e03335cfe0e";

    [Fact]
    public void SameTextGivesIdenticalVectorAcrossInstances()
    {
        var first = new HashingEmbeddingGenerator().Embed(GoldenText);
        var second = new HashingEmbeddingGenerator().Embed(GoldenText);

        Assert.Equal(first, second);
    }

    [Fact]
    public void VectorMatchesCommittedGoldenChecksum()
    {
        var vector = new HashingEmbeddingGenerator(384).Embed(GoldenText);

        Assert.Equal(GoldenChecksum, Checksum(vector));
    }

    [Theory]
    [InlineData(GoldenText)]
    [InlineData("a")]
    [InlineData("Ünïcödé wörds, émojis 🎨 and 日本語 text")]
    [InlineData("the the the the")] // only stopwords
    [InlineData("!!! ... ???")]
    public void VectorsHaveUnitNorm(string text)
    {
        var vector = new HashingEmbeddingGenerator().Embed(text);

        Assert.Equal(1.0, Norm(vector), 4);
    }

    [Fact]
    public void LongTextBeyondTheStackBufferIsEmbedded()
    {
        var text = string.Join(' ', Enumerable.Range(0, 500).Select(i => $"word{i} painting"));

        var vector = new HashingEmbeddingGenerator().Embed(text);

        Assert.Equal(1.0, Norm(vector), 4);
    }

    [Fact]
    public void EmptyTextGivesOneFixedUnitVector()
    {
        var generator = new HashingEmbeddingGenerator();

        var empty = generator.Embed("");
        var whitespace = generator.Embed("   \n\t");
        var none = generator.Embed((string?)null);

        Assert.Equal(1.0, Norm(empty), 4);
        Assert.Equal(empty, whitespace);
        Assert.Equal(empty, none);
        Assert.NotEqual(empty, generator.Embed("painting"));
    }

    [Fact]
    public void TextsSharingWordsAreMoreSimilarThanUnrelatedOnes()
    {
        var generator = new HashingEmbeddingGenerator();
        var query = generator.Embed("What did Melanie paint recently?");
        var related = generator.Embed("Melanie: I just finished painting a sunset over the lake last week.");
        var unrelated = generator.Embed("Caroline: My car broke down on the highway this morning.");

        Assert.True(Cosine(query, related) > Cosine(query, unrelated) + 0.1,
            $"related {Cosine(query, related):F3} vs unrelated {Cosine(query, unrelated):F3}");
    }

    [Fact]
    public void WordFormsAndParaphrasesStayClose()
    {
        var generator = new HashingEmbeddingGenerator();
        var a = generator.Embed("She loves running marathons with her friends");
        var b = generator.Embed("She loved to run a marathon with friends");
        var c = generator.Embed("The quarterly tax report is due tomorrow");

        Assert.True(Cosine(a, b) > 0.5, $"paraphrase cosine {Cosine(a, b):F3}");
        Assert.True(Cosine(a, b) > Cosine(a, c) + 0.3);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(384)]
    [InlineData(1024)]
    public async Task DimensionsOptionIsHonoured(int dimensions)
    {
        using var generator = new HashingEmbeddingGenerator(dimensions);

        var embeddings = await generator.GenerateAsync(["first text", "second text"]);

        Assert.All(embeddings, e => Assert.Equal(dimensions, e.Vector.Length));
        Assert.Equal($"hashing-v1-{dimensions}", generator.ModelId);
        Assert.All(embeddings, e => Assert.Equal(generator.ModelId, e.ModelId));
    }

    [Fact]
    public void ModelIdIsExposedThroughMetadata()
    {
        IEmbeddingGenerator<string, Embedding<float>> generator = new HashingEmbeddingGenerator();

        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();

        Assert.NotNull(metadata);
        Assert.Equal("hashing-v1-384", metadata.DefaultModelId);
        Assert.Equal(384, metadata.DefaultModelDimensions);
    }

    [Fact]
    public async Task GenerateAsyncKeepsInputOrder()
    {
        using var generator = new HashingEmbeddingGenerator();
        string[] texts = ["alpha", "beta", "gamma"];

        var embeddings = await generator.GenerateAsync(texts);

        Assert.Equal(texts.Select(generator.Embed), embeddings.Select(e => e.Vector.ToArray()));
    }

    internal static string Checksum(float[] vector)
    {
        // Rounded so a last-bit difference in float maths on another CPU does not count as a change.
        var hash = 14695981039346656037UL;
        foreach (var v in vector)
        {
            hash ^= (ulong)(long)Math.Round(v * 1e5);
            hash *= 1099511628211UL;
        }
        return hash.ToString("x16");
    }

    private static double Norm(float[] v) => Math.Sqrt(v.Sum(x => (double)x * x));

    private static double Cosine(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum() / (Norm(a) * Norm(b));
}

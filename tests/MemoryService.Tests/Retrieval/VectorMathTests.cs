using MemoryService.Retrieval;

namespace MemoryService.Tests.Retrieval;

public sealed class VectorMathTests
{
    [Fact]
    public void EveryFiniteHalfIsWidenedExactlyInEveryLane()
    {
        var query = new float[40];
        var stored = new Half[40];
        var wrong = 0;
        for (var bits = 0; bits < 65536; bits++)
        {
            var h = BitConverter.UInt16BitsToHalf((ushort)bits);
            if (Half.IsNaN(h) || Half.IsInfinity(h)) continue;
            var lane = bits % stored.Length; // vector lanes and the scalar tail alike
            Array.Clear(query);
            Array.Clear(stored);
            query[lane] = 1f;
            stored[lane] = h;
            if (VectorMath.Dot(stored, query) != (double)(float)h) wrong++;
        }
        Assert.Equal(0, wrong);
    }

    [Theory]
    [InlineData(384)]
    [InlineData(1536)]
    [InlineData(37)]
    public void DotAndCosineEqualADoublePrecisionReference(int dimensions)
    {
        var random = new Random(dimensions);
        for (var trial = 0; trial < 50; trial++)
        {
            // sparse like a hashed text's vector, with some subnormal halves
            var stored = Enumerable.Range(0, dimensions).Select(_ => random.Next(3) switch
            {
                0 => Half.Zero,
                1 => (Half)(float)(random.NextDouble() * 0.2 - 0.1),
                _ => BitConverter.UInt16BitsToHalf((ushort)random.Next(1, 1024)), // subnormal
            }).ToArray();
            var query = Enumerable.Range(0, dimensions).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            double dot = 0, stored2 = 0, query2 = 0;
            for (var i = 0; i < dimensions; i++)
            {
                dot += (double)(float)stored[i] * query[i];
                stored2 += (double)(float)stored[i] * (float)stored[i];
                query2 += (double)query[i] * query[i];
            }
            Assert.Equal(dot, VectorMath.Dot(stored, query), 1e-12);
            var cosine = VectorMath.Cosine(stored, VectorMath.Norm(stored), query, VectorMath.Norm(query));
            Assert.Equal(dot / Math.Sqrt(stored2 * query2), cosine!.Value, 1e-12);
        }
        Assert.Null(VectorMath.Cosine(new Half[dimensions], 0, new float[dimensions], 1));
    }
}

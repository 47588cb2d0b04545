using System.Numerics;

namespace MemoryService.Retrieval;

/// <summary>
/// Cosine for ranking, in double precision: each float product is exact in a double, so two memories tie only when
/// they really do (float accumulation, as in pgvector, makes near-equal memories tie or swap by rounding).
/// </summary>
public static class VectorMath
{
    public static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = Vector<double>.Zero;
        var i = 0;
        for (; i <= a.Length - Vector<float>.Count; i += Vector<float>.Count)
        {
            Vector.Widen(new Vector<float>(a[i..]), out var al, out var ah);
            Vector.Widen(new Vector<float>(b[i..]), out var bl, out var bh);
            sum += al * bl + ah * bh;
        }
        var total = Vector.Sum(sum);
        for (; i < a.Length; i++) total += (double)a[i] * b[i];
        return total;
    }

    public static double Norm(ReadOnlySpan<float> a) => Math.Sqrt(Dot(a, a));

    /// <summary>Cosine similarity, or null when either vector is zero (no direction to compare).</summary>
    public static double? Cosine(ReadOnlySpan<float> a, double normA, ReadOnlySpan<float> b, double normB) =>
        normA > 0 && normB > 0 ? Dot(a, b) / (normA * normB) : null;
}

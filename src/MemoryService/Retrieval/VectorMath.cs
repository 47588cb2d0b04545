using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace MemoryService.Retrieval;

/// <summary>
/// Cosine for ranking, in double precision over the stored half-precision vector and the query's float vector: every
/// product is exact in a double, so two memories tie only when they really do (float accumulation, as in pgvector,
/// makes near-equal memories tie or swap by rounding).
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

    /// <summary>The dot product of a stored half vector with a float vector (the halves widened exactly to floats).</summary>
    public static double Dot(ReadOnlySpan<Half> a, ReadOnlySpan<float> b)
    {
        float[]? rented = null;
        var widened = a.Length <= 2048 ? stackalloc float[a.Length] : (rented = ArrayPool<float>.Shared.Rent(a.Length)).AsSpan(0, a.Length);
        TensorPrimitives.ConvertToSingle(a, widened);
        var dot = Dot(widened, b[..a.Length]);
        if (rented is not null) ArrayPool<float>.Shared.Return(rented);
        return dot;
    }

    public static double Norm(ReadOnlySpan<float> a) => Math.Sqrt(Dot(a, a));

    public static double Norm(ReadOnlySpan<Half> a)
    {
        float[]? rented = null;
        var widened = a.Length <= 2048 ? stackalloc float[a.Length] : (rented = ArrayPool<float>.Shared.Rent(a.Length)).AsSpan(0, a.Length);
        TensorPrimitives.ConvertToSingle(a, widened);
        var norm = Norm(widened);
        if (rented is not null) ArrayPool<float>.Shared.Return(rented);
        return norm;
    }

    /// <summary>Cosine similarity, or null when either vector is zero (no direction to compare).</summary>
    public static double? Cosine(ReadOnlySpan<Half> a, double normA, ReadOnlySpan<float> b, double normB) =>
        normA > 0 && normB > 0 ? Dot(a, b) / (normA * normB) : null;
}

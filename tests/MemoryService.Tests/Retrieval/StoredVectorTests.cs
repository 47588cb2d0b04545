using System.Net;
using System.Text;
using System.Text.Json;
using MemoryService.Data;
using MemoryService.Memories;
using MemoryService.Retrieval;
using MemoryService.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pgvector;

namespace MemoryService.Tests.Retrieval;

/// <summary>
/// The embedding column through pgvector's own types: every write path (a single create, a PATCH of the content, the
/// background worker behind a batch) stores exactly what PostgreSQL's own real[]-to-halfvec cast makes of the model's
/// vector, and the EF model reads it back as a <see cref="HalfVector"/>.
/// </summary>
public sealed class StoredVectorTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static StringContent Body(object body) => new(JsonSerializer.Serialize(body, ApiFactory.Json), Encoding.UTF8, "application/json");

    [Fact]
    public async Task EveryWritePathStoresTheModelsVectorAsPostgresRoundsItToHalves()
    {
        using var t = await api.NewTenantAsync();
        var created = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/users/u/memories", Body(new { content = "Grows tomatoes on the balcony" })));
        var single = created.GetProperty("id").GetGuid();
        await AssertStoredAsync(t.TenantId, single, "Grows tomatoes on the balcony");

        var patch = new HttpRequestMessage(HttpMethod.Patch, $"/v1/users/u/memories/{single}") { Content = Body(new { content = "Grows peppers in the garden" }) };
        Assert.Equal(HttpStatusCode.OK, (await t.Http.SendAsync(patch)).StatusCode);
        await AssertStoredAsync(t.TenantId, single, "Grows peppers in the garden");

        // a batch is stored without vectors and embedded by the background worker
        var items = Enumerable.Range(0, 5).Select(i => new { content = $"Batch fact {i} about sailing" }).ToList();
        var batch = await ApiFactory.ReadAsync<JsonElement>(await t.Http.PostAsync("/v1/users/u/memories/batch", Body(new { items })));
        Assert.Equal(0, (await ApiFactory.WaitForEmbeddingsAsync(t.Http)).GetProperty("pending").GetInt64());
        var ids = batch.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetGuid()).ToList();
        for (var i = 0; i < ids.Count; i++) await AssertStoredAsync(t.TenantId, ids[i], $"Batch fact {i} about sailing");
    }

    private async Task AssertStoredAsync(Guid tenant, Guid id, string content)
    {
        var embedder = api.Services.GetRequiredService<Embedder>();
        var vector = (await embedder.EmbedDocumentsAsync([content], CancellationToken.None))[0];

        using var scope = api.Services.CreateScope();
        var memory = await scope.ServiceProvider.GetRequiredService<MemoryDb>().Set<Memory>().AsNoTracking()
            .SingleAsync(m => m.TenantId == tenant && m.Id == id);
        Assert.Equal(embedder.ModelId, memory.EmbeddingModel);
        Assert.NotNull(memory.Embedding);
        Assert.Equal(vector.Length, memory.Embedding!.Memory.Length);

        // PostgreSQL's own rounding of the float vector, compared with what is stored, bit for bit
        await using var conn = await api.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("SELECT $1::real[]::halfvec, (SELECT embedding FROM memories WHERE id = $2)", conn);
        cmd.Parameters.AddWithValue(vector);
        cmd.Parameters.AddWithValue(id);
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var expected = reader.GetFieldValue<HalfVector>(0).ToArray();
        Assert.Equal(expected, reader.GetFieldValue<HalfVector>(1).ToArray());
        Assert.Equal(expected, memory.Embedding.ToArray());
        Assert.Equal(expected, VectorMath.ToStored(vector).ToArray());
        Assert.Contains(expected, h => h != Half.Zero);
    }
}

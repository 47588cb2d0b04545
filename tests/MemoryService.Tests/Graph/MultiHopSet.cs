using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Retrieval;

namespace MemoryService.Tests.Graph;

// Compiled into the benchmark too (bench/MemoryService.Bench links this file), so the test and the "graph" benchmark
// score the set the same way.
/// <summary>The hand-written multi-hop set: profiles of first-person memories (plus shared fillers) and questions whose
/// answer takes two of them.</summary>
public sealed record MultiHopSet(IReadOnlyList<string> Fillers, IReadOnlyList<MultiHopSet.Profile> Profiles)
{
    public sealed record Question(string Text, IReadOnlyList<string> Support);

    public sealed record Profile(string Id, IReadOnlyList<string> Memories, IReadOnlyList<Question> Questions);

    public int Questions => Profiles.Sum(p => p.Questions.Count);

    public static MultiHopSet Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        var fillers = root.GetProperty("fillers").EnumerateArray().Select(f => f.GetString()!).ToList();
        var profiles = root.GetProperty("profiles").EnumerateArray().Select(p => new Profile(
            p.GetProperty("id").GetString()!,
            p.GetProperty("memories").EnumerateArray().Select(m => m.GetString()!).ToList(),
            p.GetProperty("questions").EnumerateArray().Select(q => new Question(q.GetProperty("question").GetString()!,
                q.GetProperty("support").EnumerateArray().Select(s => s.GetString()!).ToList())).ToList())).ToList();
        return new MultiHopSet(fillers, profiles);
    }

    /// <summary>Each profile as the user "{prefix}-{id}": its memories in order, then the fillers, one write each (an hour apart).</summary>
    public async Task IngestAsync(HttpClient http, JsonSerializerOptions json, string prefix)
    {
        var start = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        foreach (var p in Profiles)
            foreach (var (i, text) in p.Memories.Concat(Fillers).Index())
            {
                var response = await http.PostAsJsonAsync($"/v1/users/{prefix}-{p.Id}/memories", new { content = text, observed_at = start.AddHours(i) }, json);
                response.EnsureSuccessStatusCode();
            }
    }

    /// <summary>Share of questions with both supporting memories in the top 10, and the mean share of supporting memories there.</summary>
    public async Task<(double Both, double Recall)> EvaluateAsync(HttpClient http, JsonSerializerOptions json, string prefix, RankingWeights weights)
    {
        double both = 0, recall = 0;
        foreach (var p in Profiles)
            foreach (var q in p.Questions)
            {
                var response = await http.PostAsJsonAsync($"/v1/users/{prefix}-{p.Id}/memories/search",
                    new { query = q.Text, limit = 10, include_knowledge = false, weights }, json);
                response.EnsureSuccessStatusCode();
                var top = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray()
                    .Select(i => i.GetProperty("memory").GetProperty("content").GetString()!).ToHashSet();
                var found = q.Support.Count(top.Contains);
                if (found == q.Support.Count) both++;
                recall += found / (double)q.Support.Count;
            }
        return (both / Questions, recall / Questions);
    }
}

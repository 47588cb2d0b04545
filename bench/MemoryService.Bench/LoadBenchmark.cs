using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MemoryService.Embeddings;
using MemoryService.Hosting;
using Microsoft.Extensions.AI;
using Npgsql;

namespace MemoryService.Bench;

/// <summary>
/// Load over real HTTP: seed users × memories through the batch endpoint, then search, context, single
/// writes and a 70/20/10 mix at several concurrencies, each for a fixed time with one closed-loop worker
/// per slot. Reports latency percentiles, throughput, errors, the service's peak RSS and the database size
/// per memory; writes JSON, a markdown report and gnuplot charts.
/// </summary>
public static class LoadBenchmark
{
    private static readonly JsonSerializerOptions Json = CreateJson();
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] args) => RunAsync(args).GetAwaiter().GetResult();

    private sealed record Options(int Users, int PerUser, int Seconds, double Warmup, int[] Concurrency, string[] Workloads,
        int InFlight, int Seed, string JsonPath, string ReportPath, string ImageDir, string? Pg, int RecallUsers, bool SharedTexts, int QueryUsers)
    {
        /// <summary>The i-th memory of a user: varied texts, or (--texts shared) a small shared vocabulary.</summary>
        public LoadWorkload.Item Memory(Random r, int? i = null) =>
            SharedTexts ? LoadWorkload.SharedMemory(r, i ?? r.Next(1_000_000)) : LoadWorkload.Memory(r);
        public string Query(Random r) => SharedTexts ? LoadWorkload.SharedQuery(r) : LoadWorkload.Query(r);
        /// <summary>The user a request goes to: any of them, or (--query-users N) one of the first N.</summary>
        public string User(Random r) => LoadWorkload.UserId(r.Next(QueryUsers));

        public static Options Parse(string[] args)
        {
            string? A(string name) => ServiceHost.Arg(args, name);
            var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", Inv);
            var root = ServiceHost.FindRepoRoot();
            var json = A("--out") ?? Path.Combine(root, "bench/results", $"load-{stamp}.json");
            return new Options(
                Users: int.Parse(A("--users") ?? "1000", Inv),
                PerUser: int.Parse(A("--memories-per-user") ?? "1000", Inv),
                Seconds: int.Parse(A("--seconds") ?? "20", Inv),
                Warmup: double.Parse(A("--warmup") ?? "2", Inv),
                Concurrency: (A("--concurrency") ?? "1,8,32").Split(',').Select(c => int.Parse(c, Inv)).ToArray(),
                Workloads: (A("--workloads") ?? "search,context,write,mixed").Split(',', StringSplitOptions.RemoveEmptyEntries).Where(w => w != "none").ToArray(),
                InFlight: int.Parse(A("--in-flight") ?? "4", Inv),
                Seed: int.Parse(A("--seed") ?? "42", Inv),
                JsonPath: json,
                ReportPath: A("--report") ?? Path.ChangeExtension(json, ".md"),
                ImageDir: A("--img-dir") ?? Path.Combine(Path.GetDirectoryName(json)!, Path.GetFileNameWithoutExtension(json) + "-img"),
                Pg: A("--pg"),
                RecallUsers: int.Parse(A("--recall-users") ?? "20", Inv),
                SharedTexts: (A("--texts") ?? "varied") switch
                {
                    "varied" => false,
                    "shared" => true,
                    var t => throw new ArgumentException($"--texts {t}: varied or shared"),
                },
                QueryUsers: Math.Min(int.Parse(A("--query-users") ?? "0", Inv) is > 0 and var q ? q : int.MaxValue, int.Parse(A("--users") ?? "1000", Inv)));
        }
    }

    public sealed record Stats(string Workload, int Concurrency, long Requests, long Errors, double Seconds, double Throughput,
        double P50, double P95, double P99, double Max, double? PeakRssMib, CpuPerRequest? CpuMsPerRequest, Dictionary<string, OpStats> PerOperation);

    /// <summary>CPU milliseconds spent per request by the service, its PostgreSQL server and this load generator.</summary>
    public sealed record CpuPerRequest(double Service, double Postgres, double Client);

    public sealed record OpStats(long Requests, long Errors, double P50, double P95, double P99, double Max);

    private static async Task<int> RunAsync(string[] args)
    {
        var o = Options.Parse(args);
        var started = DateTimeOffset.UtcNow;
        var loadBefore = LoadAverage();
        Console.WriteLine($"load: {o.Users} users x {o.PerUser} memories ({(o.SharedTexts ? "shared-vocabulary" : "varied")} texts" +
            $"{(o.QueryUsers < o.Users ? $", requests to the first {o.QueryUsers}" : "")}), {o.Seconds} s per cell, concurrency {string.Join('/', o.Concurrency)}; " +
            $"load average {loadBefore}");

        await using var host = await ServiceHost.StartAsync(args);
        using var rss = new RssSampler(host);
        using var http = host.CreateClient(maxConnections: Math.Max(64, o.Concurrency.Max() * 2));
        var pg = o.Pg ?? (host.DataDirectory is { } dir
            ? new NpgsqlConnectionStringBuilder { Host = Path.Combine(dir, "run"), Username = "postgres", Database = "memory", Pooling = false,
                Password = File.ReadAllText(Path.Combine(dir, "pgdata.secret")).Trim() }.ConnectionString
            : null);

        // 1. seed (skipped when a kept --data-dir already holds the same data set)
        var existing = pg is null ? 0 : await ScalarAsync<long>(pg, "SELECT count(*) FROM memories WHERE user_id LIKE 'load-%'");
        object? ingest = null;
        if (existing >= (long)o.Users * o.PerUser)
            Console.WriteLine($"seed: {existing:N0} memories already present, not seeding");
        else
            ingest = await SeedAsync(http, o, rss);

        object? database = null;
        if (pg is not null)
        {
            // Steady state: what autovacuum would have done after the bulk load (statistics, visibility map),
            // and the bulk load's dirty pages written out, so no checkpoint competes with the first cell.
            await ExecAsync(pg, "VACUUM (ANALYZE) memories; VACUUM (ANALYZE) memory_history; CHECKPOINT");
            database = await DatabaseSizeAsync(pg);
            Console.WriteLine("database: " + JsonSerializer.Serialize(database));
        }

        // 2. exactness: the API's vector-only top 10 equals an exact scan of the user's rows
        double? recall = pg is null ? null : await RecallAsync(http, pg, o);

        // 3. workloads
        var hasContext = await HasContextAsync(http);
        if (!hasContext) Console.WriteLine("context: POST /v1/users/{u}/context is not in this build; context workload skipped, mixed is 70/30 search/write");
        var results = new List<Stats>();
        foreach (var workload in o.Workloads)
        {
            if (workload == "context" && !hasContext) continue;
            foreach (var c in o.Concurrency)
            {
                var s = await RunCellAsync(host, http, o, workload, c, hasContext, rss);
                results.Add(s);
                Console.WriteLine($"{workload,-8} c={c,-3} {s.Throughput,8:0.0} req/s  p50 {s.P50,7:0.00}  p95 {s.P95,7:0.00}  p99 {s.P99,7:0.00}  " +
                    $"max {s.Max,8:0.0} ms  errors {s.Errors}  rss {s.PeakRssMib:0} MiB");
            }
        }

        // 4. report
        var report = new
        {
            started, finished = DateTimeOffset.UtcNow, command = "load " + string.Join(' ', args),
            machine = new { cores = Environment.ProcessorCount, memory_gib = Math.Round(MemTotalGiB(), 1), os = Environment.OSVersion.VersionString,
                dotnet = Environment.Version.ToString(), load_average_before = loadBefore, load_average_after = LoadAverage() },
            users = o.Users, memories_per_user = o.PerUser, seconds = o.Seconds, context_available = hasContext,
            ingest, database, recall_at_10 = recall, peak_rss_mib = rss.PeakMiB, results,
        };
        Directory.CreateDirectory(Path.GetDirectoryName(o.JsonPath)!);
        await File.WriteAllTextAsync(o.JsonPath, JsonSerializer.Serialize(report, new JsonSerializerOptions(Json) { WriteIndented = true }));
        var charts = Charts(results, o.ImageDir);
        await File.WriteAllTextAsync(o.ReportPath, Markdown(report.command, report.machine, o, ingest, database, recall, rss.PeakMiB, results, hasContext, charts, o.ReportPath));
        Console.WriteLine($"wrote {o.JsonPath}, {o.ReportPath}{(charts.Count > 0 ? $" and {charts.Count} charts in {o.ImageDir}" : "")}");
        return results.Sum(r => r.Errors) == 0 ? 0 : 1;
    }

    private sealed record Ingest(long Memories, long Requests, long Errors, double Seconds, double MemoriesPerSecond, double? PeakRssMib);

    private static async Task<Ingest> SeedAsync(HttpClient http, Options o, RssSampler rss)
    {
        const int batch = 1000;
        var jobs = Enumerable.Range(0, o.Users)
            .SelectMany(u => Enumerable.Range(0, (o.PerUser + batch - 1) / batch).Select(b => (User: u, Part: b)))
            .ToList();
        long done = 0, errors = 0, requests = 0, next = -1;
        rss.ResetPhase();
        var sw = Stopwatch.StartNew();
        var lastPrint = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, o.InFlight).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= jobs.Count) return;
                var (user, part) = jobs[(int)i];
                // One generator per (user, part): the data set is the same whatever the order of requests.
                var r = new Random(HashCode.Combine(o.Seed, user, part) & 0x7fffffff);
                var count = Math.Min(batch, o.PerUser - part * batch);
                var items = Enumerable.Range(0, count).Select(k => Body(o.Memory(r, part * batch + k))).ToList();
                try
                {
                    using var response = await http.PostAsJsonAsync($"/v1/users/{LoadWorkload.UserId(user)}/memories/batch", new { items }, Json);
                    await response.Content.CopyToAsync(Stream.Null);
                    Interlocked.Increment(ref requests);
                    if (response.IsSuccessStatusCode) Interlocked.Add(ref done, count);
                    else ReportError(Interlocked.Increment(ref errors), $"batch: {(int)response.StatusCode}");
                }
                catch (HttpRequestException ex)
                {
                    ReportError(Interlocked.Increment(ref errors), "batch: " + ex.Message);
                }
                if (lastPrint.Elapsed.TotalSeconds >= 15)
                {
                    lock (lastPrint)
                    {
                        if (lastPrint.Elapsed.TotalSeconds < 15) continue;
                        lastPrint.Restart();
                        var d = Interlocked.Read(ref done);
                        Console.WriteLine($"  seeded {d:N0} ({d / sw.Elapsed.TotalSeconds:0}/s), rss {rss.PeakMiB:0} MiB");
                    }
                }
            }
        })));
        var stored = sw.Elapsed.TotalSeconds;
        var embedded = await ServiceHost.WaitForEmbeddingsAsync(http);
        var s = new Ingest(done, requests, errors, Math.Round(sw.Elapsed.TotalSeconds, 1), Math.Round(done / sw.Elapsed.TotalSeconds), rss.PhasePeakMiB);
        Console.WriteLine($"seed: {s.Memories:N0} memories stored in {stored:0.0} s, vector-searchable {embedded:0.0} s later; {s.MemoriesPerSecond:0} memories/s, {s.Errors} errors, peak rss {s.PeakRssMib:0} MiB");
        return s;
    }

    private static object Body(LoadWorkload.Item m) =>
        new { content = m.Content, kind = m.Kind, tags = m.Tags, importance = m.Importance, observed_at = m.ObservedAt };

    private static async Task<bool> HasContextAsync(HttpClient http)
    {
        using var response = await http.PostAsJsonAsync($"/v1/users/{LoadWorkload.UserId(0)}/context", new { query = "food", token_budget = 800 }, Json);
        return response.StatusCode is not (HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed);
    }

    private static async Task<Stats> RunCellAsync(ServiceHost host, HttpClient http, Options o, string workload, int concurrency, bool hasContext, RssSampler rss)
    {
        var ops = new[] { "search", "context", "write" };
        // Closed loop: each worker sends its next request when the previous answered.
        async Task<List<(int Op, double Ms, bool Ok)>> Worker(int id, TimeSpan length, CancellationToken stop)
        {
            var r = new Random(HashCode.Combine(o.Seed, workload, concurrency, id) & 0x7fffffff);
            var samples = new List<(int, double, bool)>(4096);
            var until = Stopwatch.StartNew();
            while (until.Elapsed < length)
            {
                var op = workload switch
                {
                    "search" => 0,
                    "context" => 1,
                    "write" => 2,
                    _ => r.Next(100) is var p && p < 70 ? 0 : p < 90 ? (hasContext ? 1 : 2) : 2,
                };
                if (!hasContext && workload == "mixed" && op == 2 && r.Next(100) < 67) op = 0; // 70/30 when there is no context API
                var user = o.User(r);
                var sw = Stopwatch.StartNew();
                bool ok;
                try
                {
                    using var response = op switch
                    {
                        0 => await http.PostAsJsonAsync($"/v1/users/{user}/memories/search", new { query = o.Query(r), limit = 10 }, Json, stop),
                        1 => await http.PostAsJsonAsync($"/v1/users/{user}/context", new { query = o.Query(r), token_budget = 800 }, Json, stop),
                        _ => await http.PostAsJsonAsync($"/v1/users/{user}/memories", Body(o.Memory(r)), Json, stop),
                    };
                    await response.Content.CopyToAsync(Stream.Null, stop);
                    ok = response.IsSuccessStatusCode;
                    if (!ok) ReportError(1, $"{ops[op]}: {(int)response.StatusCode}");
                }
                catch (HttpRequestException ex)
                {
                    ok = false;
                    ReportError(1, $"{ops[op]}: {ex.Message}");
                }
                samples.Add((op, sw.Elapsed.TotalMilliseconds, ok));
            }
            return samples;
        }

        if (o.Warmup > 0) await Task.WhenAll(Enumerable.Range(0, concurrency).Select(i => Worker(-1 - i, TimeSpan.FromSeconds(o.Warmup), default)));
        rss.ResetPhase();
        var cpuBefore = CpuSnapshot.Take(host);
        var clock = Stopwatch.StartNew();
        var all = (await Task.WhenAll(Enumerable.Range(0, concurrency).Select(i => Task.Run(() => Worker(i, TimeSpan.FromSeconds(o.Seconds), default)))))
            .SelectMany(s => s).ToList();
        var seconds = clock.Elapsed.TotalSeconds;
        var cpu = CpuSnapshot.Take(host).PerRequestSince(cpuBefore, all.Count);
        var (p50, p95, p99, max) = Percentiles(all.Select(s => s.Ms));
        var perOp = all.GroupBy(s => s.Op).ToDictionary(g => ops[g.Key], g =>
        {
            var (a, b, c, d) = Percentiles(g.Select(s => s.Ms));
            return new OpStats(g.Count(), g.Count(s => !s.Ok), a, b, c, d);
        });
        return new Stats(workload, concurrency, all.Count, all.Count(s => !s.Ok), Math.Round(seconds, 2), Math.Round(all.Count / seconds, 1),
            p50, p95, p99, max, rss.PhasePeakMiB, cpu, perOp);
    }

    private static (double P50, double P95, double P99, double Max) Percentiles(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length == 0) return (0, 0, 0, 0);
        Array.Sort(v);
        double P(double q) => Math.Round(v[Math.Clamp((int)Math.Ceiling(q * v.Length) - 1, 0, v.Length - 1)], 2);
        return (P(0.50), P(0.95), P(0.99), Math.Round(v[^1], 2));
    }

    private static int _errorsShown;

    private static void ReportError(long count, string message)
    {
        if (count > 0 && Interlocked.Increment(ref _errorsShown) <= 10) Console.Error.WriteLine("  error: " + message);
    }

    /// <summary>
    /// For sampled users and queries, the API's vector-only top 10 against an exact cosine scan of all of
    /// the user's current rows (index scans off): the share of exact top-10 ids the API returned.
    /// </summary>
    private static async Task<double> RecallAsync(HttpClient http, string pg, Options o)
    {
        using var embedder = new HashingEmbeddingGenerator();
        var r = new Random(o.Seed);
        var weights = new { similarity = 1.0, keyword = 0.0, recency = 0.0, importance = 0.0, activation = 0.0, context = 0.0, graph = 0.0 };
        int found = 0, expected = 0;
        await using var conn = new NpgsqlConnection(pg);
        await conn.OpenAsync();
        await using (var off = new NpgsqlCommand("SET enable_indexscan = off; SET enable_bitmapscan = off; SET jit = off", conn)) await off.ExecuteNonQueryAsync();
        for (var i = 0; i < o.RecallUsers; i++)
        {
            var user = o.User(r);
            var query = o.Query(r);
            using var response = await http.PostAsJsonAsync($"/v1/users/{user}/memories/search",
                new { query, limit = 10, include_knowledge = false, weights }, Json);
            response.EnsureSuccessStatusCode();
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
            var api = body.GetProperty("items").EnumerateArray().Select(h => h.GetProperty("memory").GetProperty("id").GetGuid()).ToHashSet();

            var vector = (await embedder.GenerateAsync([query]))[0].Vector.ToArray();
            await using var cmd = new NpgsqlCommand("""
                SELECT id, 1 - (embedding::vector <=> $3::real[]::vector) AS sim FROM memories
                WHERE tenant_id = (SELECT tenant_id FROM users WHERE id = $1 LIMIT 1) AND user_id = $1 AND valid_to IS NULL
                  AND (expires_at IS NULL OR expires_at > now()) AND embedding_model = $2
                ORDER BY sim DESC, id LIMIT 11
                """, conn);
            cmd.Parameters.AddWithValue(user);
            cmd.Parameters.AddWithValue(embedder.ModelId);
            cmd.Parameters.AddWithValue(vector);
            var exact = new List<(Guid Id, double Sim)>();
            await using (var reader = await cmd.ExecuteReaderAsync())
                while (await reader.ReadAsync()) exact.Add((reader.GetGuid(0), reader.GetDouble(1)));
            // A tie at the cut (10th and 11th equal) may be broken either way: accept either id there.
            var top = exact.Take(10).ToList();
            var tieAtCut = exact.Count == 11 && Math.Abs(exact[9].Sim - exact[10].Sim) < 1e-9;
            foreach (var (id, sim) in top)
            {
                expected++;
                if (api.Contains(id) || (tieAtCut && Math.Abs(sim - exact[9].Sim) < 1e-9 && api.Contains(exact[10].Id))) found++;
            }
        }
        var recall = expected == 0 ? 1 : Math.Round(found / (double)expected, 4);
        Console.WriteLine($"recall@10 (vector-only API vs exact scan, {o.RecallUsers} users): {recall:0.0000}");
        return recall;
    }

    private static async Task<object> DatabaseSizeAsync(string pg)
    {
        await using var conn = new NpgsqlConnection(pg);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT (SELECT count(*) FROM memories), pg_relation_size('memories'), pg_table_size('memories'), pg_indexes_size('memories'),
                   pg_total_relation_size('memories'), pg_total_relation_size('memory_history'), pg_database_size(current_database())
            """, conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        var n = reader.GetInt64(0);
        double Mib(int i) => Math.Round(reader.GetInt64(i) / 1048576.0, 1);
        double Per(int i) => n == 0 ? 0 : Math.Round(reader.GetInt64(i) / (double)n);
        return new
        {
            memories = n,
            memories_heap_mib = Mib(1), memories_table_with_toast_mib = Mib(2), memories_indexes_mib = Mib(3), memories_total_mib = Mib(4),
            history_total_mib = Mib(5), database_mib = Mib(6),
            bytes_per_memory_table = Per(4), bytes_per_memory_with_history = n == 0 ? 0 : Math.Round((reader.GetInt64(4) + reader.GetInt64(5)) / (double)n),
            bytes_per_memory_database = Per(6),
        };
    }

    private static async Task<T> ScalarAsync<T>(string pg, string sql)
    {
        await using var conn = new NpgsqlConnection(pg);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task ExecAsync(string pg, string sql)
    {
        await using var conn = new NpgsqlConnection(pg);
        await conn.OpenAsync();
        foreach (var statement in sql.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            await using var cmd = new NpgsqlCommand(statement, conn) { CommandTimeout = 0 };
            await cmd.ExecuteNonQueryAsync();
        }
    }

    // ---- charts and report ----

    private static List<string> Charts(List<Stats> results, string dir)
    {
        var made = new List<string>();
        if (results.Count == 0) return made;
        try
        {
            Directory.CreateDirectory(dir);
            // Only the PNGs go to the image folder (docs/img for the reference run); data and script to a scratch folder.
            var work = Directory.CreateTempSubdirectory("load-charts-").FullName;
            var script = new StringBuilder();
            var workloads = results.Select(r => r.Workload).Distinct().ToList();
            foreach (var w in workloads)
            {
                var dat = Path.Combine(work, $"load-{w}.dat");
                File.WriteAllLines(dat, results.Where(r => r.Workload == w).OrderBy(r => r.Concurrency)
                    .Select(r => string.Join(' ', new[] { r.Concurrency, r.P50, r.P95, r.P99, r.Throughput }.Select(x => x.ToString(Inv)))));
            }
            var latency = Path.Combine(dir, "load-latency.png");
            script.AppendLine(CultureInfo.InvariantCulture, $"""
                set terminal pngcairo size {420 * workloads.Count},380 font ",10"
                set output '{latency}'
                set multiplot layout 1,{workloads.Count} title "Latency percentiles vs concurrency (ms, log scale)"
                set logscale x 2
                set logscale y
                set grid
                set key top left
                set xlabel "concurrency"
                """);
            foreach (var w in workloads)
                script.AppendLine(CultureInfo.InvariantCulture, $"""
                    set title "{w}"
                    plot '{Path.Combine(work, $"load-{w}.dat")}' using 1:2 with linespoints title "p50", '' using 1:3 with linespoints title "p95", '' using 1:4 with linespoints title "p99"
                    """);
            script.AppendLine("unset multiplot");
            var throughput = Path.Combine(dir, "load-throughput.png");
            script.AppendLine(CultureInfo.InvariantCulture, $"""
                set terminal pngcairo size 640,400 font ",10"
                set output '{throughput}'
                set title "Throughput vs concurrency (requests/s)"
                unset logscale y
                set logscale x 2
                set key top left
                set yrange [0:*]
                plot {string.Join(", ", workloads.Select(w => $"'{Path.Combine(work, $"load-{w}.dat")}' using 1:5 with linespoints title \"{w}\""))}
                """);
            var gp = Path.Combine(work, "load.gp");
            File.WriteAllText(gp, script.ToString());
            using var p = Process.Start(new ProcessStartInfo("gnuplot", [gp]) { RedirectStandardError = true })!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0) Console.Error.WriteLine("gnuplot: " + err);
            else made.AddRange([latency, throughput]);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine("gnuplot not found (apt-get install gnuplot-nox): no charts");
        }
        return made;
    }

    private static string Markdown(string command, object machine, Options o, object? ingest, object? database, double? recall, double? peakRss,
        List<Stats> results, bool hasContext, List<string> charts, string reportPath)
    {
        var md = new StringBuilder();
        md.AppendLine(Inv, $"Command: `dotnet run -c Release --project bench/MemoryService.Bench -- {command}`  ");
        md.AppendLine(Inv, $"Machine: `{JsonSerializer.Serialize(machine, Json)}`  ");
        md.AppendLine(Inv, $"Data: {o.Users:N0} users x {o.PerUser:N0} memories = {(long)o.Users * o.PerUser:N0}; {o.Seconds} s per cell after {o.Warmup} s warm-up; closed-loop workers; random user per request{(o.QueryUsers < o.Users ? $" among the first {o.QueryUsers:N0}" : "")}; {(o.SharedTexts ? "shared-vocabulary" : "varied")} texts.");
        md.AppendLine();
        if (ingest is not null) md.AppendLine(Inv, $"Ingest: `{JsonSerializer.Serialize(ingest, Json)}`  ");
        if (database is not null) md.AppendLine(Inv, $"Database: `{JsonSerializer.Serialize(database, Json)}`  ");
        if (recall is not null) md.AppendLine(Inv, $"Exactness: vector-only recall@10 vs an exact scan over {o.RecallUsers} sampled users = {recall:0.0000}  ");
        md.AppendLine(Inv, $"Service peak RSS over the whole run: {peakRss:0} MiB");
        if (!hasContext) md.AppendLine("\nThe context endpoint is not in this build: no context workload; mixed is 70/30 search/write.");
        md.AppendLine();
        md.AppendLine("| workload | concurrency | requests | throughput (req/s) | p50 ms | p95 ms | p99 ms | max ms | errors | peak RSS MiB | CPU ms/request: service / PostgreSQL / load generator |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
            md.AppendLine(Inv, $"| {r.Workload} | {r.Concurrency} | {r.Requests} | {r.Throughput:0.0} | {r.P50:0.00} | {r.P95:0.00} | {r.P99:0.00} | {r.Max:0.0} | {r.Errors} | {r.PeakRssMib:0} | {r.CpuMsPerRequest?.Service:0.00} / {r.CpuMsPerRequest?.Postgres:0.00} / {r.CpuMsPerRequest?.Client:0.00} |");
        var mixed = results.Where(r => r.Workload == "mixed").ToList();
        if (mixed.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Mixed, per operation (p50 / p99 ms):");
            md.AppendLine();
            md.AppendLine("| concurrency | " + string.Join(" | ", mixed[0].PerOperation.Keys.Order()) + " |");
            md.AppendLine("| ---: | " + string.Join(" | ", mixed[0].PerOperation.Keys.Select(_ => "---:")) + " |");
            foreach (var r in mixed)
            {
                var cells = string.Join(" | ", r.PerOperation.OrderBy(p => p.Key)
                    .Select(p => FormattableString.Invariant($"{p.Value.P50:0.00} / {p.Value.P99:0.00} (n={p.Value.Requests})")));
                md.AppendLine(Inv, $"| {r.Concurrency} | {cells} |");
            }
        }
        md.AppendLine();
        var reportDir = Path.GetDirectoryName(Path.GetFullPath(reportPath))!;
        foreach (var c in charts) md.AppendLine(Inv, $"![{Path.GetFileNameWithoutExtension(c)}]({Path.GetRelativePath(reportDir, c)})");
        return md.ToString();
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static double MemTotalGiB()
    {
        if (!File.Exists("/proc/meminfo")) return 0;
        var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Inv) / 1048576;
    }

    private static JsonSerializerOptions CreateJson()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiConventions.Configure(o);
        return o;
    }

    /// <summary>
    /// Cumulative CPU time (utime + stime) of the service, of its PostgreSQL server (the postmaster named in
    /// the data directory and its children: backends are pooled, so they live through a cell) and of this process.
    /// </summary>
    private sealed record CpuSnapshot(double Service, Dictionary<int, double> Postgres, double Client)
    {
        public static CpuSnapshot Take(ServiceHost host)
        {
            var service = host.ProcessId is { } pid ? Ticks(pid) : 0;
            var postgres = new Dictionary<int, double>();
            if (host.DataDirectory is { } dir && File.Exists(Path.Combine(dir, "pgdata/postmaster.pid"))
                && int.TryParse(File.ReadLines(Path.Combine(dir, "pgdata/postmaster.pid")).First(), out var postmaster))
            {
                postgres[postmaster] = Ticks(postmaster);
                foreach (var d in Directory.EnumerateDirectories("/proc"))
                    if (int.TryParse(Path.GetFileName(d), out var child) && ParentOf(child) == postmaster) postgres[child] = Ticks(child);
            }
            return new CpuSnapshot(service, postgres, Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds);
        }

        /// <summary>Per process, so a backend or autovacuum worker that exits during the cell cannot make the sum go down.</summary>
        public CpuPerRequest? PerRequestSince(CpuSnapshot before, long requests)
        {
            if (requests == 0) return null;
            var postgres = Postgres.Sum(p => p.Value - before.Postgres.GetValueOrDefault(p.Key));
            return new(Math.Round((Service - before.Service) / requests, 3), Math.Round(postgres / requests, 3),
                Math.Round((Client - before.Client) / requests, 3));
        }

        // /proc/<pid>/stat: fields after the ")" of the command name; utime and stime are the 14th and 15th, in clock ticks (100/s).
        private static double Ticks(int pid)
        {
            var f = Fields(pid);
            return f is null ? 0 : (double.Parse(f[11], Inv) + double.Parse(f[12], Inv)) * 10;
        }

        private static int ParentOf(int pid) => Fields(pid) is { } f ? int.Parse(f[1], Inv) : -1;

        private static string[]? Fields(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            }
            catch (IOException) { return null; }
            catch (UnauthorizedAccessException) { return null; }
        }
    }

    /// <summary>Samples the service's VmRSS every 250 ms: the peak of the whole run and of the current phase.</summary>
    private sealed class RssSampler : IDisposable
    {
        private readonly ServiceHost _host;
        private readonly Timer _timer;
        private readonly Lock _gate = new();
        private double? _peak, _phasePeak;

        public RssSampler(ServiceHost host)
        {
            _host = host;
            _timer = new Timer(_ => Sample(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(250));
        }

        public double? PeakMiB { get { lock (_gate) return _peak is { } p ? Math.Round(p, 1) : null; } }

        public double? PhasePeakMiB { get { Sample(); lock (_gate) return _phasePeak is { } p ? Math.Round(p, 1) : null; } }

        public void ResetPhase() { lock (_gate) _phasePeak = null; }

        private void Sample()
        {
            double? mib;
            try { mib = _host.RssMiB(); }
            catch (IOException) { return; }
            if (mib is not { } m) return;
            lock (_gate)
            {
                _peak = Math.Max(_peak ?? 0, m);
                _phasePeak = Math.Max(_phasePeak ?? 0, m);
            }
        }

        public void Dispose() => _timer.Dispose();
    }
}

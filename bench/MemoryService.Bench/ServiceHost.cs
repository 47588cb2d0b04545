using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.Http.Json;

namespace MemoryService.Bench;

/// <summary>
/// The service under benchmark: one given by --url and --key, or one started here from the Release build
/// with the embedded default database in a fresh data directory (removed afterwards unless --keep-data).
/// </summary>
public sealed class ServiceHost : IAsyncDisposable
{
    private Process? _process;
    private string? _dataDir;
    private bool _keepData;

    public required Uri BaseUrl { get; init; }
    public required string ApiKey { get; init; }
    public int? ProcessId => _process?.Id;

    /// <summary>The data directory of a service started here (its PostgreSQL socket is in <c>run/</c>); null for --url.</summary>
    public string? DataDirectory => _dataDir;

    public HttpClient CreateClient(int maxConnections = 64)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = maxConnections, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            BaseAddress = BaseUrl,
            Timeout = TimeSpan.FromSeconds(120),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        return client;
    }

    public static async Task<ServiceHost> StartAsync(string[] args, IDictionary<string, string>? settings = null)
    {
        var url = Arg(args, "--url");
        var key = Arg(args, "--key");
        if (url is not null)
            return new ServiceHost { BaseUrl = new Uri(url), ApiKey = key ?? throw new ArgumentException("--url needs --key") };

        var root = FindRepoRoot();
        // --service-dll runs a copy of the build, so the source tree can be rebuilt while a long benchmark runs
        var dll = Arg(args, "--service-dll") ?? Path.Combine(root, "src/MemoryService/bin/Release/net10.0/MemoryService.dll");
        if (!File.Exists(dll)) throw new InvalidOperationException($"Build the service first: dotnet build src/MemoryService -c Release ({dll} missing).");
        var dataDir = Arg(args, "--data-dir") ?? Path.Combine(Path.GetTempPath(), "memsvc-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dataDir);
        var port = FreePort();
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://127.0.0.1:{port}");
        psi.Environment["Storage__DataDirectory"] = dataDir;
        psi.Environment["Serilog__MinimumLevel__Default"] = "Warning";
        psi.Environment["Serilog__MinimumLevel__Override__Microsoft.Hosting.Lifetime"] = "Warning";
        psi.Environment["RateLimit__PermitsPerSecond"] = "1000000";
        psi.Environment["RateLimit__Burst"] = "1000000";
        foreach (var (k, v) in settings ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        // --set Section:Key=value (repeatable) configures the started service, e.g. --set Retrieval:FeedbackDocuments=0
        for (var i = 0; i < args.Length - 1; i++)
            if (args[i] == "--set" && args[i + 1].Split('=', 2) is [var name, var value])
                psi.Environment[name.Replace(":", "__")] = value;
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null && e.Data.Contains("ERR")) Console.Error.WriteLine("service: " + e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("service: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var baseUrl = new Uri($"http://127.0.0.1:{port}");
        using var probe = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(2) };
        var started = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"The service exited with code {process.ExitCode}.");
            try
            {
                if ((await probe.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK) break;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (started.Elapsed > TimeSpan.FromSeconds(90)) throw new TimeoutException("The service did not become ready in 90 s.");
            await Task.Delay(200);
        }
        var apiKey = (await File.ReadAllTextAsync(Path.Combine(dataDir, "default-api-key.txt"))).Trim();
        return new ServiceHost { BaseUrl = baseUrl, ApiKey = apiKey, _process = process, _dataDir = dataDir, _keepData = args.Contains("--keep-data") };
    }

    /// <summary>
    /// Waits until the background worker has embedded every memory of the key's tenant (a batch is stored at once and
    /// embedded afterwards); returns the seconds waited.
    /// </summary>
    public static async Task<double> WaitForEmbeddingsAsync(HttpClient http, int maxSeconds = 1800)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < maxSeconds)
        {
            using var response = await http.GetAsync("/v1/embeddings/status");
            response.EnsureSuccessStatusCode();
            var status = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
            if (status.GetProperty("pending").GetInt64() == 0) return sw.Elapsed.TotalSeconds;
            await Task.Delay(50);
        }
        throw new TimeoutException($"Memories still pending embedding after {maxSeconds} s.");
    }

    /// <summary>Resident set size of the service process in MiB (null when it runs elsewhere).</summary>
    public double? RssMiB()
    {
        if (_process is null) return null;
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]);
            await kill.WaitForExitAsync();
            if (!_process.WaitForExit(60_000)) _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
        if (!_keepData && _dataDir is not null)
        {
            try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    public static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MemoryService.sln"))) return dir.FullName;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MemoryService.sln"))) return dir.FullName;
        throw new InvalidOperationException("Run from inside the repository (no MemoryService.sln found above).");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

using System.Net.Sockets;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.Versioning;
using System.Text;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MemoryService.Tests.Walkthrough;

/// <summary>
/// The README's promise, end to end: the real service, started the way scripts/run.sh starts it (a child
/// process with no connection string, so the embedded default creates its own PostgreSQL cluster and
/// the default tenant's key file), answers the README's curl walkthrough, stops cleanly on SIGTERM and
/// finds its data again on the next start.
/// Linux only, like the embedded default it exercises (bash, /proc, unix file modes).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class ReadmeWalkthroughTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopsWithin = TimeSpan.FromSeconds(30);

    // Under /tmp and 755: as root, the embedded server runs as the postgres user, which must reach it.
    private readonly string _root = CreateRoot();
    private ServiceProcess? _service;

    private string DataDirectory => Path.Combine(_root, "data");
    private string KeyFile => Path.Combine(DataDirectory, "default-api-key.txt");
    private string PidFile => Path.Combine(DataDirectory, "pgdata", "postmaster.pid");

    [Fact]
    public async Task ReadmeWalkthroughPassesOnTheEmbeddedDefaultAndDataSurvivesARestart()
    {
        // 1. First start: the service creates its cluster, the default tenant and the key file.
        _service = await StartServiceAsync();
        Assert.True(File.Exists(KeyFile), "the embedded default wrote no default-api-key.txt");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyFile));
        var key = File.ReadAllText(KeyFile).Trim();
        Assert.Contains(DataDirectory, _service.Output);
        Assert.Contains(KeyFile, _service.Output);

        // 2. The README's walkthrough block, run as a reader would paste it.
        var (exitCode, walkthroughOutput) = await RunWalkthroughAsync(_service.BaseUrl, key);
        output.WriteLine(walkthroughOutput);
        Assert.True(exitCode == 0, $"The README walkthrough failed (exit {exitCode}):\n{walkthroughOutput}\n--- service ---\n{_service.Output}");

        // 3. Something to look for after the restart.
        using var client = Client(_service.BaseUrl, key);
        var created = await client.PostAsync("/v1/users/restart-check/memories",
            new StringContent("""{"content": "Keeps a bonsai on the desk", "kind": "fact"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();

        // 4. SIGTERM: the service exits in time and stops the PostgreSQL server it started.
        var postgresPid = int.Parse(File.ReadLines(PidFile).First());
        Assert.True(await _service.StopAsync(StopsWithin), $"The service did not exit within {StopsWithin.TotalSeconds:0} s of SIGTERM.");
        Assert.False(File.Exists(PidFile), "postmaster.pid is left: the embedded PostgreSQL server was not stopped");
        Assert.False(IsRunning(postgresPid), $"the embedded PostgreSQL server (pid {postgresPid}) still runs");
        _service.Dispose();

        // 5. Second start on the same data directory: same key, same data.
        _service = await StartServiceAsync();
        Assert.Equal(key, File.ReadAllText(KeyFile).Trim());
        using var again = Client(_service.BaseUrl, key);
        var found = await again.GetAsync($"/v1/users/restart-check/memories/{id}");
        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        Assert.Equal("Keeps a bonsai on the desk",
            JsonDocument.Parse(await found.Content.ReadAsStringAsync()).RootElement.GetProperty("content").GetString());
        Assert.True(await _service.StopAsync(StopsWithin), "The restarted service did not exit on SIGTERM.");
    }

    private async Task<(int ExitCode, string Output)> RunWalkthroughAsync(string baseUrl, string key)
    {
        var script = Path.Combine(_root, "walkthrough.sh");
        await File.WriteAllTextAsync(script, ExtractWalkthrough());
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _root,
        };
        foreach (var arg in new[] { "-euo", "pipefail", script }) psi.ArgumentList.Add(arg);
        psi.Environment["BASE"] = baseUrl;
        psi.Environment["KEY"] = key;
        using var bash = Process.Start(psi)!;
        var stdout = bash.StandardOutput.ReadToEndAsync();
        var stderr = bash.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await bash.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            bash.Kill(entireProcessTree: true);
            return (-1, "timed out after 2 minutes\n" + await stdout + await stderr);
        }
        return (bash.ExitCode, await stdout + await stderr);
    }

    /// <summary>The README block fenced as <c>```sh walkthrough</c>, from the repository root (where MemoryService.sln is).</summary>
    private static string ExtractWalkthrough()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MemoryService.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var lines = File.ReadAllLines(Path.Combine(dir.FullName, "README.md"));
        var start = Array.IndexOf(lines, "```sh walkthrough");
        Assert.True(start >= 0, "README.md has no ```sh walkthrough block");
        var end = Array.IndexOf(lines, "```", start + 1);
        Assert.True(end > start, "the ```sh walkthrough block in README.md is not closed");
        return string.Join('\n', lines[(start + 1)..end]) + "\n";
    }

    private static HttpClient Client(string baseUrl, string key)
    {
        var client = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    internal static bool IsRunning(int pid)
    {
        var status = $"/proc/{pid}/status";
        try
        {
            return File.Exists(status) && !File.ReadAllText(status).Contains("zombie", StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
    }

    internal static string CreateRoot(string prefix = "memsvc-readme-")
    {
        var root = Path.Combine("/tmp", prefix + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        return root;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // A failed test must not leave the service or its PostgreSQL server running on a shared machine.
        if (_service is not null && !await _service.StopAsync(StopsWithin))
            _service.Kill();
        _service?.Dispose();
        if (File.Exists(PidFile) && int.TryParse(File.ReadLines(PidFile).FirstOrDefault(), out var pid) && IsRunning(pid))
            ServiceProcess.Signal("INT", pid); // PostgreSQL's fast shutdown
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    // The embedded default: no connection string, whatever the test run was given.
    private Task<ServiceProcess> StartServiceAsync() => ServiceProcess.StartAsync(
        new Dictionary<string, string?> { ["ConnectionStrings__Memory"] = null, ["Storage__DataDirectory"] = DataDirectory }, ReadyWithin);
    internal static void Signal(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, pid.ToString() }, UseShellExecute = false })!;
        kill.WaitForExit();
    }

    /// <summary>The published service (MemoryService.dll next to the test assembly) as a child process.</summary>
    internal sealed class ChildService : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        private ChildService(Process process, string baseUrl)
        {
            _process = process;
            BaseUrl = baseUrl;
        }

        public string BaseUrl { get; }

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public static async Task<ChildService> StartAsync(string dataDirectory, IReadOnlyDictionary<string, string>? environment = null)
        {
            var baseUrl = $"http://127.0.0.1:{FreePort()}";
            var dll = typeof(Program).Assembly.Location;
            var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = Path.GetDirectoryName(dll)!,
            };
            foreach (var arg in new[] { dll, "--urls", baseUrl }) psi.ArgumentList.Add(arg);
            // The embedded default: no connection string, whatever the test run was given.
            psi.Environment.Remove("ConnectionStrings__Memory");
            psi.Environment.Remove("ASPNETCORE_URLS");
            psi.Environment["Storage__DataDirectory"] = dataDirectory;
            psi.Environment["Logging__Format"] = "text";
            foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;

            var service = new ChildService(new Process { StartInfo = psi }, baseUrl);
            service._process.OutputDataReceived += (_, e) => service.Append(e.Data);
            service._process.ErrorDataReceived += (_, e) => service.Append(e.Data);
            service._process.Start();
            service._process.BeginOutputReadLine();
            service._process.BeginErrorReadLine();
            await service.WaitUntilReadyAsync();
            return service;
        }

        /// <summary>SIGTERM, as systemd or docker stop would send; true when it exited in time.</summary>
        public async Task<bool> StopAsync(TimeSpan within)
        {
            if (_process.HasExited) return true;
            Signal("TERM", _process.Id);
            using var timeout = new CancellationTokenSource(within);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        /// <summary>The exit code, or null when the process still runs after <paramref name="within"/>.</summary>
        public async Task<int?> WaitForExitAsync(TimeSpan within)
        {
            using var timeout = new CancellationTokenSource(within);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
                return _process.ExitCode;
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        public void Kill()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
        }

        private async Task WaitUntilReadyAsync()
        {
            using var http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(5) };
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < ReadyWithin)
            {
                if (_process.HasExited)
                    Assert.Fail($"The service exited during startup (exit {_process.ExitCode}):\n{Output}");
                try
                {
                    if ((await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK) return;
                }
                catch (HttpRequestException) { }
                catch (TaskCanceledException) { }
                await Task.Delay(250);
            }
            Kill();
            Assert.Fail($"/health/ready was not 200 within {ReadyWithin.TotalSeconds:0} s:\n{Output}");
        }

        private void Append(string? line)
        {
            if (line is null) return;
            lock (_output) _output.AppendLine(line);
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}

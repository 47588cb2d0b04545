using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Foundation;

/// <summary>The service started the way scripts/run.sh starts it: `dotnet &lt;dll&gt;` with the repo root as cwd.</summary>
public class RunPathTests
{
    [Fact]
    public async Task StartedLikeRunShLoadsAppSettingsAndLogsOneLinePerRequest()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "scripts", "run.sh"))) root = root.Parent!;
        var output = Path.Combine(root.FullName, "src/MemoryService/bin/Release/net10.0");
        Assert.Contains("--contentRoot \"$out\"", File.ReadAllText(Path.Combine(root.FullName, "scripts", "run.sh")));
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var data = Directory.CreateTempSubdirectory("runpath-");
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = root.FullName, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { $"{output}/MemoryService.dll", "--contentRoot", output, "--urls", $"http://127.0.0.1:{port}" }) start.ArgumentList.Add(a);
        start.Environment["ConnectionStrings__Memory"] = TestDatabase.CreateDatabase();
        start.Environment["Storage__DataDirectory"] = data.FullName;
        start.Environment["Auth__AdminKey"] = ApiFactory.AdminKey;
        var lines = new ConcurrentQueue<string>();
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiFactory.AdminKey);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!lines.Any(l => l.Contains("Application started"))) { Assert.True(DateTime.UtcNow < deadline && !process.HasExited, string.Join("\n", lines)); await Task.Delay(100); }
            var before = lines.Count;

            const int n = 10;
            for (var i = 0; i < n; i++)
                (await http.PostAsJsonAsync("/v1/admin/tenants", new { name = $"runpath-{i}" })).EnsureSuccessStatusCode();
            await Task.Delay(500);

            var after = lines.Skip(before).ToList();
            Assert.True(after.Count == n, string.Join("\n", after));
            Assert.All(after, l => Assert.Contains("HTTP POST /v1/admin/tenants responded 201", l));
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
            data.Delete(true);
        }
    }
}

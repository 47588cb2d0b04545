using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace MemoryService.Tests.Infrastructure;

/// <summary>
/// The built service (MemoryService.dll next to the test assembly) as a child process on a free loopback port,
/// started with <c>dotnet MemoryService.dll</c> and the given environment, ready once /health/ready is 200.
/// </summary>
public sealed class ServiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServiceProcess(Process process, string baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <param name="environment">Variables to set; a null value removes one inherited from the test run.</param>
    /// <param name="readyWithin">How long /health/ready may take.</param>
    public static async Task<ServiceProcess> StartAsync(IReadOnlyDictionary<string, string?> environment, TimeSpan readyWithin)
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
        psi.Environment.Remove("ASPNETCORE_URLS");
        psi.Environment["Logging__Format"] = "text";
        foreach (var (name, value) in environment)
        {
            if (value is null) psi.Environment.Remove(name);
            else psi.Environment[name] = value;
        }

        var service = new ServiceProcess(new Process { StartInfo = psi }, baseUrl);
        service._process.OutputDataReceived += (_, e) => service.Append(e.Data);
        service._process.ErrorDataReceived += (_, e) => service.Append(e.Data);
        service._process.Start();
        service._process.BeginOutputReadLine();
        service._process.BeginErrorReadLine();
        await service.WaitUntilReadyAsync(readyWithin);
        return service;
    }

    /// <summary>A new tenant, made with the admin key, and its first API key.</summary>
    public async Task<string> NewTenantKeyAsync(string adminKey, string name)
    {
        using var admin = new HttpClient { BaseAddress = new Uri(BaseUrl) };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
        var tenant = await ApiFactory.ReadAsync<JsonElement>(await admin.PostAsJsonAsync("/v1/admin/tenants", new { name }, ApiFactory.Json));
        var key = await ApiFactory.ReadAsync<JsonElement>(await admin.PostAsJsonAsync(
            $"/v1/admin/tenants/{tenant.GetProperty("id").GetString()}/keys", new { name }, ApiFactory.Json));
        return key.GetProperty("key").GetString()!;
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

    /// <summary>SIGKILL (kill -9): no shutdown code runs.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    public static void Signal(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, pid.ToString() }, UseShellExecute = false })!;
        kill.WaitForExit();
    }

    private async Task WaitUntilReadyAsync(TimeSpan readyWithin)
    {
        using var http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < readyWithin)
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
        Assert.Fail($"/health/ready was not 200 within {readyWithin.TotalSeconds:0} s:\n{Output}");
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

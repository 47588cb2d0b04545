using System.Diagnostics;
using System.Text;
using MemoryService.Tests.Infrastructure;

namespace MemoryService.Tests.Sdk;

/// <summary>
/// A live service (a child process on a loopback port, on a database of its own), a tenant key for it, and the
/// TypeScript SDK's pinned toolchain installed once with <c>npm ci</c>. Node and npm come from Debian; when they are
/// missing, scripts/prereqs.sh --tests installs them.
/// </summary>
public sealed class TypeScriptSdkFixture : IAsyncLifetime
{
    public const string AdminKey = "ts-sdk-admin-key-0123456789abcdefghij";

    private readonly string _connectionString = TestDatabase.CreateDatabase();
    private ServiceProcess? _service;

    public static string RepositoryRoot { get; } = FindRepositoryRoot();
    public static string SdkDirectory { get; } = Path.Combine(RepositoryRoot, "sdk", "typescript");

    public string BaseUrl => _service!.BaseUrl;
    public string TenantKey { get; private set; } = "";
    public string ServiceOutput => _service?.Output ?? "";

    public async Task InitializeAsync()
    {
        var install = Task.Run(() => Run("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], SdkDirectory,
            TimeSpan.FromMinutes(5)));
        _service = await ServiceProcess.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings__Memory"] = _connectionString,
            ["Auth__AdminKey"] = AdminKey,
            ["Embeddings__Provider"] = "hashing",
            ["RateLimit__PermitsPerSecond"] = "100000",
            ["RateLimit__Burst"] = "100000",
            ["Auth__FailedAttemptsBurst"] = "100000",
        }, TimeSpan.FromSeconds(60));
        TenantKey = await _service.NewTenantKeyAsync(AdminKey, "ts-sdk");
        var npm = await install;
        Assert.True(npm.ExitCode == 0, $"npm ci in sdk/typescript failed (exit {npm.ExitCode}):\n{npm.Output}");
    }

    public Task DisposeAsync()
    {
        _service?.Dispose();
        TestDatabase.DropDatabase(_connectionString);
        return Task.CompletedTask;
    }

    /// <param name="Output">stdout and stderr interleaved.</param>
    public sealed record Outcome(int ExitCode, string Output, string StandardOutput);

    /// <summary>Runs a program to completion (or kills it at the timeout), stdout and stderr interleaved.</summary>
    public static Outcome Run(string program, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        if (program is "npm" or "node" && !OnPath(program))
            Assert.Fail($"{program} is not installed: run scripts/prereqs.sh --tests (it installs Debian's nodejs and npm)");
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments) psi.ArgumentList.Add(argument);
        psi.Environment["NO_COLOR"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;

        var output = new StringBuilder();
        var stdout = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) { output.AppendLine(e.Data); stdout.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            lock (output) return new Outcome(-1, $"{program} did not finish within {timeout.TotalSeconds:0} s\n{output}", stdout.ToString());
        }
        process.WaitForExit();
        lock (output) return new Outcome(process.ExitCode, output.ToString(), stdout.ToString());
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MemoryService.sln"))) dir = dir.Parent;
        Assert.True(dir is not null, "the repository (MemoryService.sln) was not found above the test assembly");
        return dir!.FullName;
    }
}

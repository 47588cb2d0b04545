using System.Text.Json;
using System.Text.RegularExpressions;

namespace MemoryService.Tests.Sdk;

/// <summary>The TypeScript SDK (sdk/typescript): generated from sdk/openapi.json, compiled with tsc, run against a live service.</summary>
public sealed class TypeScriptSdkTests(TypeScriptSdkFixture sdk) : IClassFixture<TypeScriptSdkFixture>
{
    private static readonly TimeSpan Minutes = TimeSpan.FromMinutes(3);
    private static string SdkDirectory => TypeScriptSdkFixture.SdkDirectory;

    [Fact]
    public void NodeTestsPassAgainstTheLiveService()
    {
        var build = TypeScriptSdkFixture.Run("node", ["node_modules/typescript/bin/tsc", "-p", "tsconfig.test.json"], SdkDirectory, Minutes);
        Assert.True(build.ExitCode == 0, $"tsc -p tsconfig.test.json failed (exit {build.ExitCode}):\n{build.Output}");

        var run = TypeScriptSdkFixture.Run("node", ["--test", "--test-reporter=tap", "build/test/client.test.js"], SdkDirectory, Minutes,
            new Dictionary<string, string> { ["MEMORY_SERVICE_URL"] = sdk.BaseUrl, ["MEMORY_SERVICE_KEY"] = sdk.TenantKey });

        var tests = Counter(run.Output, "tests");
        var passed = Counter(run.Output, "pass");
        var failed = Counter(run.Output, "fail");
        Assert.True(run.ExitCode == 0 && failed == 0 && tests > 0 && passed == tests,
            $"node --test: exit {run.ExitCode}, {passed} of {tests} passed, {failed} failed\n{Tail(run.Output)}\n--- service log ---\n{Tail(sdk.ServiceOutput)}");
    }

    [Fact]
    public void GeneratedTypesMatchTheOpenApiDocument()
    {
        var check = TypeScriptSdkFixture.Run("bash", [Path.Combine(TypeScriptSdkFixture.RepositoryRoot, "scripts", "generate-sdks-typescript.sh"), "--check"],
            TypeScriptSdkFixture.RepositoryRoot, Minutes);
        Assert.True(check.ExitCode == 0, $"regenerating sdk/typescript/src/schema.ts from sdk/openapi.json would change it:\n{check.Output}");
    }

    [Fact]
    public void NpmPackBuildsATarballWithTheCompiledClient()
    {
        var destination = Directory.CreateTempSubdirectory("ts-sdk-pack-").FullName;
        try
        {
            var pack = TypeScriptSdkFixture.Run("npm", ["pack", "--json", "--pack-destination", destination], SdkDirectory, Minutes);
            Assert.True(pack.ExitCode == 0, $"npm pack failed (exit {pack.ExitCode}):\n{pack.Output}");

            using var manifest = JsonDocument.Parse(pack.StandardOutput[pack.StandardOutput.IndexOf('[')..]);
            var packed = manifest.RootElement[0];
            var files = packed.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("path").GetString()!).ToHashSet();
            Assert.Superset(new HashSet<string> { "package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/problem.js", "dist/schema.d.ts" }, files);
            Assert.DoesNotContain(files, f => f.StartsWith("src/") || f.StartsWith("test/") || f.StartsWith("build/"));
            Assert.True(File.Exists(Path.Combine(destination, packed.GetProperty("filename").GetString()!)), "npm pack reported a tarball it did not write");
        }
        finally
        {
            Directory.Delete(destination, recursive: true);
        }
    }

    [Fact]
    public void SampleTypeChecksAndTheReadmesShowIt()
    {
        var samples = Path.Combine(TypeScriptSdkFixture.RepositoryRoot, "samples", "typescript");
        var check = TypeScriptSdkFixture.Run("node", [Path.Combine(SdkDirectory, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"],
            samples, Minutes);
        Assert.True(check.ExitCode == 0, $"tsc -p samples/typescript failed (exit {check.ExitCode}):\n{check.Output}");

        var block = "```ts\n" + File.ReadAllText(Path.Combine(samples, "quickstart.ts")) + "```\n";
        var readme = File.ReadAllText(Path.Combine(TypeScriptSdkFixture.RepositoryRoot, "README.md"));
        var section = readme.IndexOf("\n## Use from TypeScript\n", StringComparison.Ordinal);
        Assert.True(section >= 0, "README.md has no \"## Use from TypeScript\" section");
        var next = readme.IndexOf("\n## ", section + 1, StringComparison.Ordinal);
        var useFromTypeScript = next < 0 ? readme[section..] : readme[section..next];
        Assert.True(useFromTypeScript.Contains(block, StringComparison.Ordinal), "README.md's \"Use from TypeScript\" block differs from samples/typescript/quickstart.ts");
        Assert.True(File.ReadAllText(Path.Combine(SdkDirectory, "README.md")).Contains(block, StringComparison.Ordinal),
            "sdk/typescript/README.md's example differs from samples/typescript/quickstart.ts");
    }

    private static int Counter(string tap, string name) =>
        Regex.Match(tap, $@"^# {name} (\d+)\s*$", RegexOptions.Multiline | RegexOptions.NonBacktracking) is { Success: true } m ? int.Parse(m.Groups[1].Value) : -1;

    private static string Tail(string text, int chars = 12_000) => text.Length <= chars ? text : "…" + text[^chars..];
}

using System.Diagnostics;
using MemoryService.Tests.Foundation;

namespace MemoryService.Tests.Sdk;

/// <summary>The checked-in SDK code is exactly what scripts/generate-sdks.sh makes from sdk/openapi.json.</summary>
public sealed class SdkDriftTests
{
    [Fact]
    public async Task RegeneratingTheCSharpSdkChangesNoFile()
    {
        var root = OpenApiContractTests.RepoRoot();
        var temp = Directory.CreateTempSubdirectory("sdk-drift-");
        try
        {
            var psi = new ProcessStartInfo("bash", ["scripts/generate-sdks.sh", "--out", temp.FullName, "--only", "csharp"])
            {
                WorkingDirectory = root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(psi)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"generate-sdks.sh failed: {await stdout}\n{await stderr}");

            var generated = Path.Combine(temp.FullName, "csharp");
            var checkedIn = Path.Combine(root, "src", "MemoryService.Client", "Generated");
            var names = Directory.GetFiles(generated).Select(Path.GetFileName).Order().ToList();
            Assert.NotEmpty(names);
            Assert.Equal(names, Directory.GetFiles(checkedIn).Select(Path.GetFileName).Order().ToList());
            foreach (var name in names)
            {
                var expected = await File.ReadAllTextAsync(Path.Combine(generated, name!));
                var actual = await File.ReadAllTextAsync(Path.Combine(checkedIn, name!));
                Assert.True(expected == actual,
                    $"src/MemoryService.Client/Generated/{name} differs from what scripts/generate-sdks.sh makes: run it and commit the result");
            }
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }
}

using System.Text.RegularExpressions;
using MemoryService.Tests.Foundation;

namespace MemoryService.Tests.Sdk;

/// <summary>
/// The README's C# examples are compiled: every line of them is in the sample project (built with the solution),
/// in the same order, and every using directive is there too.
/// </summary>
public sealed partial class ReadmeSnippetTests
{
    [Theory]
    [InlineData("Use from C#")]
    [InlineData("Use with Semantic Kernel")]
    public void ReadmeSectionCodeIsInTheCompiledSample(string heading)
    {
        var root = OpenApiContractTests.RepoRoot();
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        var section = Regex.Match(readme, $@"^## {Regex.Escape(heading)}\n(.*?)(?=^## )", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(section.Success, $"README has no \"## {heading}\" section");
        var blocks = CSharpBlock().Matches(section.Groups[1].Value).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(blocks);

        var sampleDir = Path.Combine(root, "samples", "MemoryService.Samples.Chat");
        var sources = Directory.GetFiles(sampleDir, "*.cs").Order().Select(File.ReadAllText).ToList();
        var sampleLines = sources.SelectMany(Lines).ToList();
        foreach (var block in blocks)
        {
            var lines = Lines(block).ToList();
            foreach (var directive in lines.Where(l => l.StartsWith("using ")))
                Assert.Contains(directive, sampleLines);
            // The code lines in order, within one source file.
            var code = lines.Where(l => !l.StartsWith("using ")).ToList();
            Assert.True(sources.Any(s => IsSubsequence(code, Lines(s).ToList())),
                $"README \"{heading}\" code is not in samples/MemoryService.Samples.Chat in this order:\n{string.Join('\n', code)}");
        }
    }

    private static IEnumerable<string> Lines(string text) =>
        text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("//"));

    private static bool IsSubsequence(List<string> wanted, List<string> lines)
    {
        var i = 0;
        foreach (var line in lines)
            if (i < wanted.Count && line == wanted[i]) i++;
        return i == wanted.Count;
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}

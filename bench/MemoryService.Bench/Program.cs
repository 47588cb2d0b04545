// Benchmarks print their figures; they are not timed tests. Usage: dotnet run -c Release --project bench/MemoryService.Bench -- <name> [options]
var name = args.FirstOrDefault() ?? "help";
var rest = args.Skip(1).ToArray();
return name switch
{
    "extraction" => ExtractionBenchmark.Run(rest),
    _ => Help(),
};

static int Help()
{
    Console.WriteLine("benchmarks:");
    Console.WriteLine("  extraction [--iterations N]   rule-based memory extractor: precision/recall/F1 on the labelled sets, p50/p95/mean latency");
    return 2;
}

// Benchmarks print their figures; they are not timed tests. Usage: dotnet run -c Release --project bench/MemoryService.Bench -- <name> [options]
var name = args.FirstOrDefault() ?? "help";
var rest = args.Skip(1).ToArray();
return name switch
{
    "tokens" => TokenCounterBenchmark.Run(rest),
    _ => Help(),
};

static int Help()
{
    Console.WriteLine("benchmarks:");
    Console.WriteLine("  tokens [--seconds N] [--verbose]   ApproximateTokenCounter against the cl100k_base fixture: error per category, throughput");
    return 2;
}

// Benchmarks print their figures; they are not timed tests. Usage: dotnet run -c Release --project bench/MemoryService.Bench -- <name> [options]
using MemoryService.Bench;

var name = args.FirstOrDefault() ?? "help";
var rest = args.Skip(1).ToArray();
return name switch
{
    "embedding" => EmbeddingBenchmark.Run(rest),
    "tokens" => TokenCounterBenchmark.Run(rest),
    "quality" => QualityBenchmark.Run(rest),
    "extraction" => ExtractionBenchmark.Run(rest),
    "context" => ContextBenchmark.Run(rest),
    "load" => LoadBenchmark.Run(rest),
    "explain" => ExplainSearch.Run(rest),
    "meaning" => MeaningBenchmark.Run(rest),
    "costs" => CostBenchmark.Run(rest),
    "lifecycle-calibrate" => LifecycleCalibration.Run(rest),
    "lifecycle" => LifecycleBenchmark.Run(rest),
    "graph" => GraphBenchmark.Run(rest),
    _ => Help(),
};

static int Help()
{
    Console.WriteLine("benchmarks:");
    Console.WriteLine("  embedding   hashing embedder throughput and vector-only evidence recall@5/10/25 on LoCoMo");
    Console.WriteLine("              [--data locomo-dev.json] [--dimensions 384] [--seconds 3]");
    Console.WriteLine("              [--provider openai --base-url URL --model NAME [--api-key KEY]]");
    Console.WriteLine("  tokens      approximate count against exact cl100k_base on token-texts.json: error per category; throughput of each tokenizer");
    Console.WriteLine("              [--seconds N] [--verbose]");
    Console.WriteLine("  quality     LoCoMo evidence recall@5/10/25 through the HTTP API: vector-only, keyword-only, hybrid");
    Console.WriteLine("              [--url URL --key KEY] (default: starts the Release build with a fresh embedded database)");
    Console.WriteLine("              [--lifecycle] (also hybrid on a copy after one lifecycle run)");
    Console.WriteLine("  extraction  rule-based memory extractor: precision/recall/F1 on the labelled sets, p50/p95/mean latency");
    Console.WriteLine("              [--iterations N]");
    Console.WriteLine("  context     context build latency over HTTP for a user with 1,000 memories: p50/p95/p99");
    Console.WriteLine("              [--requests 1000] [--warmup 100] [--budget 800] [--url URL --key KEY] [--set Context:Tokenizer=approximate]");
    Console.WriteLine("  load        seeds users x memories over HTTP (ingest rate, database bytes per memory), then search, context,");
    Console.WriteLine("              single writes and a 70/20/10 mix at each concurrency: p50/p95/p99/max, req/s, errors, peak RSS");
    Console.WriteLine("              [--users 1000] [--memories-per-user 1000] [--seconds 20] [--concurrency 1,8,32]");
    Console.WriteLine("              [--workloads search,context,write,mixed] [--in-flight 4] [--out bench/results/load-<time>.json]");
    Console.WriteLine("              [--report PATH.md] [--img-dir DIR] [--data-dir DIR --keep-data] (a kept, seeded data dir is reused)");
    Console.WriteLine("              [--url URL --key KEY [--pg CONNECTION-STRING]]");
    Console.WriteLine("  explain     EXPLAIN (ANALYZE, BUFFERS) of the service's ranking SQL on a kept load database");
    Console.WriteLine("              --data-dir DIR [--user ID] [--query TEXT]");
    Console.WriteLine("  meaning     \"same meaning\" precision/recall per embedding model at candidate thresholds on the labelled");
    Console.WriteLine("              pairs, with suggested Learning:RepeatSimilarity / RelatedSimilarity [--pairs FILE] [--models hashing,minilm,arctic-xs]");
    Console.WriteLine("  costs       an embedding provider's costs: local model texts/s (batch 1/8/32, 1-2 threads), service RSS, time until a");
    Console.WriteLine("              1,000-item batch is vector-searchable, search p50/p99 (seen vs fresh queries) at each concurrency");
    Console.WriteLine("              [--provider local|hashing] [--model arctic-xs|minilm] [--users 4] [--seconds 8] [--concurrency 1,8]");
    Console.WriteLine("  lifecycle-calibrate  consolidation cosine threshold per embedding model from restated vs differing pairs");
    Console.WriteLine("              [--models hashing,minilm,arctic-xs]");
    Console.WriteLine("  lifecycle   synthetic year-long profiles (about 2,000 memories each) before and after one lifecycle run: active memories,");
    Console.WriteLine("              context tokens and coverage of the gold questions at fixed budgets, gold answers lost");
    Console.WriteLine("              [--profile duplicate-heavy|varied|all] [--budget 800,2000] [--set Section:Key=value]");
    Console.WriteLine("  graph       entity graph in ranking: multi-hop set (both supports in the top 10) and LoCoMo recall@10 per category,");
    Console.WriteLine("              graph weight 0 against each given weight [--weights 0,0.3] [--skip-locomo] [--skip-multihop] [--set Graph:Hops=1]");
    return 2;
}

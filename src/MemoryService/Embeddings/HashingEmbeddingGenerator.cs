using System.Buffers;
using System.Collections.Frozen;
using System.Numerics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.AI;

namespace MemoryService.Embeddings;

/// <summary>
/// Built-in embedder that needs no external service: signed feature hashing of normalised words,
/// word bigrams and character n-grams into a fixed number of buckets. It captures shared vocabulary,
/// not meaning, so it is a working default and a baseline rather than a substitute for a real model.
/// Deterministic across runs, processes and machines (own FNV-1a hash, never string.GetHashCode), so
/// vectors stored yesterday still match queries embedded today.
/// </summary>
public sealed class HashingEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    /// <summary>Bumped whenever tokenisation, features or weights change: old vectors are then incomparable.</summary>
    public const string AlgorithmVersion = "v1";

    // Weights chosen on the LoCoMo dev conversations with bench "embedding", by overall recall only (nothing per question).
    private const float UnigramWeight = 1.0f;
    // Bigrams cost a little recall@10 at 384 buckets (more collisions) but order the very top a little better; kept light.
    private const float BigramWeight = 0.2f;
    private const float CharNGramWeight = 1.0f; // L2 norm of one word's n-grams together
    private const int MinNGram = 2;
    private const int MaxNGram = 5;
    // Short words are more often common ones: weight a word by min(1, length / 5) as a cheap, corpus-free stand-in for IDF.
    private const float FullWeightLength = 5f;

    // Seeds keep the feature families apart: the unigram "art" and the trigram "art" are different features.
    private const ulong UnigramSeed = 0x9E3779B97F4A7C15;
    private const ulong BigramSeed = 0xC2B2AE3D27D4EB4F;
    private const ulong NGramSeed = 0x165667B19E3779F9;
    private const ulong EmptySeed = 0x27D4EB2F165667C5;

    private const int StackChars = 512;

    private readonly EmbeddingGeneratorMetadata _metadata;

    /// <param name="dimensions">Vector length (buckets). 384 matches small sentence-embedding models.</param>
    public HashingEmbeddingGenerator(int dimensions = 384)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 8);
        Dimensions = dimensions;
        ModelId = $"hashing-{AlgorithmVersion}-{dimensions}";
        _metadata = new EmbeddingGeneratorMetadata("hashing", providerUri: null, ModelId, dimensions);
    }

    /// <summary>Id recorded with every vector, e.g. "hashing-v1-384".</summary>
    public string ModelId { get; }

    /// <summary>Length of every vector.</summary>
    public int Dimensions { get; }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (options?.Dimensions is int requested && requested != Dimensions)
            throw new ArgumentException($"{ModelId} produces {Dimensions} dimensions, not {requested}.", nameof(options));

        var created = DateTimeOffset.UtcNow;
        var result = new GeneratedEmbeddings<Embedding<float>>();
        foreach (var value in values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            result.Add(new Embedding<float>(Embed(value)) { ModelId = ModelId, CreatedAt = created });
        }
        return Task.FromResult(result);
    }

    /// <summary>Embeds one text into a new array.</summary>
    public float[] Embed(string? text)
    {
        var vector = new float[Dimensions];
        Embed(text.AsSpan(), vector);
        return vector;
    }

    /// <summary>
    /// Embeds one text into <paramref name="destination"/> (length <see cref="Dimensions"/>) without
    /// allocating for texts under a few hundred characters. The result has L2 norm 1; a text without
    /// any word maps to one fixed vector, so its cosine is still defined.
    /// </summary>
    public void Embed(ReadOnlySpan<char> text, Span<float> destination)
    {
        if (destination.Length != Dimensions)
            throw new ArgumentException($"Destination must have {Dimensions} elements.", nameof(destination));
        destination.Clear();

        // First half holds the lowercased words, second half their stems at the same offsets.
        char[]? rentedChars = null;
        var chars = text.Length <= StackChars ? stackalloc char[2 * StackChars] : (rentedChars = ArrayPool<char>.Shared.Rent(2 * text.Length));
        chars = chars[..(2 * text.Length)];
        Token[]? rentedTokens = null;
        var maxTokens = text.Length / 2 + 1;
        var tokens = maxTokens <= 128 ? stackalloc Token[128] : (rentedTokens = ArrayPool<Token>.Shared.Rent(maxTokens));
        // Every feature is a (hash, weight) pair; sorting by hash groups repeats for sublinear tf.
        // Per word: a unigram, a bigram and at most (L + 2) n-grams of each size.
        var maxFeatures = (MaxNGram - MinNGram + 1) * (text.Length + 2 * maxTokens) + 2 * maxTokens + 1;
        var rentedHashes = ArrayPool<ulong>.Shared.Rent(maxFeatures);
        var rentedWeights = ArrayPool<float>.Shared.Rent(maxFeatures);
        try
        {
            var tokenCount = Tokenize(text, chars, tokens);
            var count = CollectFeatures(chars, tokens[..tokenCount], rentedHashes, rentedWeights);
            if (count == 0)
            {
                Add(destination, Mix(EmptySeed), 1f);
            }
            else
            {
                Accumulate(destination, rentedHashes.AsSpan(0, count), rentedWeights.AsSpan(0, count));
            }
            Normalize(destination);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rentedWeights);
            ArrayPool<ulong>.Shared.Return(rentedHashes);
            if (rentedTokens is not null) ArrayPool<Token>.Shared.Return(rentedTokens);
            if (rentedChars is not null) ArrayPool<char>.Shared.Return(rentedChars);
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return _metadata;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    public void Dispose() { }

    /// <summary>A word at <c>Start</c> in the lowercased half of the buffer; its stem sits at the same offset in the second half.</summary>
    [StructLayout(LayoutKind.Auto)]
    private struct Token
    {
        public int Start;
        public int Length;
        public int StemLength;
        public bool IsStopword;
        public int Irregular; // index into Stemmer.IrregularStems, or -1
    }

    // Lowercases letters and digits into `chars`, splitting on everything else. Apostrophes inside a word
    // are dropped rather than split on, so "don't" stays one token and "Caroline's" stems to "caroline".
    private static int Tokenize(ReadOnlySpan<char> text, Span<char> chars, Span<Token> tokens)
    {
        int written = 0, count = 0, start = -1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsLetterOrDigit(c))
            {
                if (start < 0) start = written;
                chars[written++] = char.ToLowerInvariant(c);
            }
            else if (start >= 0 && (c == '\'' || c == '\u2019') && i + 1 < text.Length && char.IsLetter(text[i + 1]))
            {
                // inside a word: skip the apostrophe only
            }
            else if (start >= 0)
            {
                count = AddToken(chars, tokens, count, start, written - start);
                start = -1;
            }
        }
        if (start >= 0) count = AddToken(chars, tokens, count, start, written - start);
        return count;
    }

    private static int AddToken(Span<char> chars, Span<Token> tokens, int count, int start, int length)
    {
        var word = chars.Slice(start, length);
        var stem = chars.Slice(chars.Length / 2 + start, length);
        word.CopyTo(stem);
        tokens[count] = new Token
        {
            Start = start,
            Length = length,
            StemLength = Stemmer.Stem(stem),
            IsStopword = Stopwords.Contains(word),
            Irregular = Stemmer.Irregular(word),
        };
        return count + 1;
    }

    private static int CollectFeatures(ReadOnlySpan<char> chars, ReadOnlySpan<Token> tokens, ulong[] hashes, float[] weights)
    {
        var n = 0;
        ulong previous = 0;
        var hasPrevious = false;
        var previousWeight = 1f;
        Span<char> marked = stackalloc char[66];
        foreach (var token in tokens)
        {
            if (token.IsStopword) continue;
            var stem = token.Irregular >= 0 ? Stemmer.IrregularStems[token.Irregular].AsSpan() : chars.Slice(chars.Length / 2 + token.Start, token.StemLength);

            // 1. the stemmed word (irregular forms mapped to their base: "went" ~ "go")
            var unigram = Hash(stem, UnigramSeed);
            var wordWeight = MathF.Min(1f, token.Length / FullWeightLength);
            hashes[n] = unigram; weights[n++] = UnigramWeight * wordWeight;

            // 2. the pair with the previous content word: stopwords are skipped, so "trip to Paris" gives "trip paris"
            if (hasPrevious)
            {
                hashes[n] = Mix(previous * 31 + unigram + BigramSeed); weights[n++] = BigramWeight * MathF.Sqrt(wordWeight * previousWeight);
            }
            previous = unigram;
            previousWeight = wordWeight;
            hasPrevious = true;

            // 3. character n-grams of the unstemmed word with boundary markers: catch spelling variants and
            //    word forms the suffix stripper misses ("painter" ~ "painting"). Skipped for very long tokens (URLs, junk).
            var raw = chars.Slice(token.Start, token.Length);
            if (raw.Length + 2 > marked.Length || raw.Length < 2) continue;
            marked[0] = '<';
            raw.CopyTo(marked[1..]);
            marked[raw.Length + 1] = '>';
            var word = marked[..(raw.Length + 2)];
            var grams = 0;
            for (var size = MinNGram; size <= MaxNGram; size++) grams += Math.Max(0, word.Length - size + 1);
            if (grams == 0) continue;
            var gramWeight = wordWeight * CharNGramWeight / MathF.Sqrt(grams);
            for (var size = MinNGram; size <= MaxNGram; size++)
            {
                for (var i = 0; i + size <= word.Length; i++)
                {
                    hashes[n] = Hash(word.Slice(i, size), NGramSeed); weights[n++] = gramWeight;
                }
            }
        }
        return n;
    }

    // Repeats of one feature count 1 + ln(tf) times its weight: a word said three times matters more, not three times more.
    private static void Accumulate(Span<float> vector, Span<ulong> hashes, Span<float> weights)
    {
        hashes.Sort(weights);
        var i = 0;
        while (i < hashes.Length)
        {
            var hash = hashes[i];
            var weight = weights[i];
            var j = i + 1;
            while (j < hashes.Length && hashes[j] == hash)
            {
                weight = MathF.Max(weight, weights[j]);
                j++;
            }
            var tf = j - i;
            Add(vector, hash, tf == 1 ? weight : weight * (1f + MathF.Log(tf)));
            i = j;
        }
    }

    // The top bit picks the sign so collisions cancel out on average instead of piling up.
    private static void Add(Span<float> vector, ulong hash, float weight)
    {
        var index = (int)((hash & 0x7FFF_FFFF_FFFF_FFFF) % (ulong)vector.Length);
        vector[index] += (hash >> 63) == 0 ? weight : -weight;
    }

    private static void Normalize(Span<float> vector)
    {
        var sum = 0f;
        foreach (var v in vector) sum += v * v;
        if (sum <= 0f)
        {
            // Every feature cancelled out: fall back to the empty-text vector rather than return zeros.
            Add(vector, Mix(EmptySeed), 1f);
            sum = 1f;
        }
        var scale = 1f / MathF.Sqrt(sum);
        for (var i = 0; i < vector.Length; i++) vector[i] *= scale;
    }

    // FNV-1a over UTF-16 code units, then a 64-bit finaliser so the low bits used for the bucket are well mixed.
    private static ulong Hash(ReadOnlySpan<char> text, ulong seed)
    {
        var hash = 14695981039346656037UL ^ seed;
        foreach (var c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return Mix(hash);
    }

    private static ulong Mix(ulong x)
    {
        x ^= x >> 33;
        x *= 0xFF51AFD7ED558CCD;
        x ^= x >> 33;
        x *= 0xC4CEB93FE1A85EC5;
        x ^= x >> 33;
        return x;
    }

    private static class Stopwords
    {
        private static readonly FrozenSet<string> Words = FrozenSet.Create(StringComparer.Ordinal,
        [
            // function words
            "a", "an", "the", "and", "or", "but", "if", "then", "than", "so", "as", "of", "at", "by", "for", "with",
            "about", "against", "between", "into", "through", "during", "before", "after", "above", "below", "to",
            "from", "up", "down", "in", "out", "on", "off", "over", "under", "again", "further", "once", "here",
            "there", "all", "any", "both", "each", "few", "more", "most", "other", "some", "such", "no", "nor", "not",
            "only", "own", "same", "too", "very", "can", "will", "just", "should", "would", "could", "now", "also",
            "is", "am", "are", "was", "were", "be", "been", "being", "have", "has", "had", "having", "do", "does",
            "did", "doing", "done", "i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your", "yours",
            "yourself", "yourselves", "he", "him", "his", "himself", "she", "her", "hers", "herself", "it", "its",
            "itself", "they", "them", "their", "theirs", "themselves", "what", "which", "who", "whom", "this", "that",
            "these", "those", "when", "where", "why", "how", "because", "until", "while", "im", "ive", "ill", "id",
            "youre", "youve", "youll", "youd", "hes", "shes", "theyre", "theyve", "thats", "whats",
            "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "cant", "couldnt", "wont", "wouldnt",
            "shouldnt", "havent", "hasnt", "hadnt", "lets", "theres", "heres", "might", "must", "shall", "may",
            "yet", "still", "even", "ever", "much", "many", "well", "us",
            // conversational filler that carries no topic
            "hey", "hi", "hello", "oh", "wow", "yeah", "yes", "yep", "ok", "okay", "thanks", "thank", "really",
            "lol", "haha", "gonna", "wanna", "got", "get", "gets", "getting",
        ]);

        private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> Lookup = Words.GetAlternateLookup<ReadOnlySpan<char>>();

        public static bool Contains(ReadOnlySpan<char> word) => Lookup.Contains(word);
    }

    /// <summary>A light English suffix stripper: merges plural, -ing, -ed and -ly forms of a word, plus common irregular forms.</summary>
    private static class Stemmer
    {
        /// <summary>Rewrites the start of <paramref name="word"/> in place and returns the stem length.</summary>
        public static int Stem(Span<char> word)
        {
            var n = word.Length;
            if (n <= 3 || !char.IsAsciiLetterLower(word[n - 1])) return n;

            // plurals and third person
            if (EndsWith(word, n, "sses")) n -= 2;
            else if (EndsWith(word, n, "ies") && n > 4) { n -= 2; word[n - 1] = 'y'; }
            else if (word[n - 1] == 's' && word[n - 2] is not ('s' or 'u' or 'i')) n -= 1;

            // past tense and progressive, only when a plausible stem with a vowel is left
            if (EndsWith(word, n, "ied") && n > 4) { n -= 2; word[n - 1] = 'y'; }
            else if (EndsWith(word, n, "ing") && n - 3 >= 3 && HasVowel(word[..(n - 3)])) n = UndoubleConsonant(word, n - 3);
            else if (EndsWith(word, n, "ed") && n - 2 >= 3 && HasVowel(word[..(n - 2)])) n = UndoubleConsonant(word, n - 2);

            if (EndsWith(word, n, "ly") && n - 2 >= 4) n -= 2;

            // "love"/"loved"/"loving" all end up "lov"
            if (n > 3 && word[n - 1] == 'e') n -= 1;
            return n;
        }

        // Irregular forms the suffix stripper cannot reach, mapped to the stem of their base form.
        private static readonly (string Form, string Base)[] IrregularForms =
        [
            ("went", "go"), ("gone", "go"), ("bought", "buy"), ("brought", "bring"), ("thought", "think"), ("taught", "teach"),
            ("caught", "catch"), ("made", "make"), ("took", "take"), ("taken", "take"), ("saw", "see"), ("seen", "see"),
            ("ate", "eat"), ("eaten", "eat"), ("ran", "run"), ("met", "meet"), ("felt", "feel"), ("left", "leave"),
            ("kept", "keep"), ("told", "tell"), ("said", "say"), ("found", "find"), ("gave", "give"), ("given", "give"),
            ("came", "come"), ("began", "begin"), ("begun", "begin"), ("wrote", "write"), ("written", "write"),
            ("sang", "sing"), ("sung", "sing"), ("swam", "swim"), ("drove", "drive"), ("driven", "drive"), ("flew", "fly"),
            ("flown", "fly"), ("won", "win"), ("lost", "lose"), ("spent", "spend"), ("built", "build"), ("sent", "send"),
            ("heard", "hear"), ("held", "hold"), ("knew", "know"), ("known", "know"), ("grew", "grow"), ("grown", "grow"),
            ("threw", "throw"), ("chose", "choose"), ("chosen", "choose"), ("sold", "sell"), ("fell", "fall"),
            ("became", "become"), ("children", "child"), ("kids", "kid"), ("women", "woman"), ("men", "man"),
            ("paid", "pay"), ("led", "lead"), ("understood", "understand"), ("taught", "teach"), ("slept", "sleep"),
            ("wore", "wear"), ("worn", "wear"), ("broke", "break"), ("broken", "break"), ("drew", "draw"), ("drawn", "draw"),
            ("better", "good"), ("best", "good"),
        ];

        private static readonly FrozenDictionary<string, int> IrregularIndex =
            IrregularForms.DistinctBy(f => f.Form).Select((f, i) => (f.Form, i)).ToFrozenDictionary(f => f.Form, f => f.i, StringComparer.Ordinal);

        private static readonly FrozenDictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> IrregularLookup =
            IrregularIndex.GetAlternateLookup<ReadOnlySpan<char>>();

        /// <summary>Stems of the base forms, by the index <see cref="Irregular"/> returns.</summary>
        public static readonly string[] IrregularStems = IrregularForms.DistinctBy(f => f.Form).Select(f =>
        {
            var buffer = f.Base.ToCharArray();
            return new string(buffer, 0, Stem(buffer));
        }).ToArray();

        /// <summary>Index of the irregular form's base stem, or -1 for a regular word.</summary>
        public static int Irregular(ReadOnlySpan<char> word) => IrregularLookup.TryGetValue(word, out var index) ? index : -1;

        private static bool EndsWith(ReadOnlySpan<char> word, int length, string suffix) => word[..length].EndsWith(suffix, StringComparison.Ordinal);

        private static bool HasVowel(ReadOnlySpan<char> stem) => stem.IndexOfAny("aeiouy") >= 0;

        // "running" -> "runn" -> "run"; but "falling" keeps "fall" and "missed" keeps "miss".
        private static int UndoubleConsonant(ReadOnlySpan<char> word, int n) =>
            n >= 3 && word[n - 1] == word[n - 2] && word[n - 1] is not ('l' or 's' or 'z' or 'a' or 'e' or 'i' or 'o' or 'u') ? n - 1 : n;
    }
}

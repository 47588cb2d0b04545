namespace MemoryService.Graph;

/// <summary>
/// The built-in entity rules, over the words of one memory (a hand-written linear tokenizer, no regex; bounded by
/// <see cref="MaxChars"/> and <see cref="MaxTokens"/>): capitalised names, typed as a place or an
/// organisation by the words around them and as a person otherwise; possessive family and pet phrases ("my sister
/// Anna", "our dog Rex", "Anna is my sister", or just "my sister") with the relation to the owner; the owner as the
/// subject of first-person text; and "X lives in / moved to Y", "X works at / for Y" relations.
/// </summary>
public sealed class RuleBasedEntityExtractor : IEntityExtractor
{
    public const int MaxChars = 4000;
    public const int MaxTokens = 600;
    public const int MaxEntities = 32;
    public const int MaxRelations = 16;
    private const int MaxNameTokens = 5;


    private static HashSet<string> Set(string words) => new(words.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);

    /// <summary>Family and other people a possessive names, with the relation they stand for.</summary>
    private static readonly Dictionary<string, string> People = new(StringComparer.Ordinal)
    {
        ["sister"] = "sister", ["brother"] = "brother", ["mother"] = "mother", ["mom"] = "mother", ["mum"] = "mother", ["mommy"] = "mother",
        ["father"] = "father", ["dad"] = "father", ["daddy"] = "father", ["wife"] = "wife", ["husband"] = "husband", ["son"] = "son",
        ["daughter"] = "daughter", ["partner"] = "partner", ["boyfriend"] = "boyfriend", ["girlfriend"] = "girlfriend", ["fiance"] = "fiance",
        ["fiancé"] = "fiance", ["fiancee"] = "fiance", ["fiancée"] = "fiance", ["cousin"] = "cousin", ["aunt"] = "aunt", ["uncle"] = "uncle",
        ["grandmother"] = "grandmother", ["grandma"] = "grandmother", ["granny"] = "grandmother", ["grandfather"] = "grandfather",
        ["grandpa"] = "grandfather", ["niece"] = "niece", ["nephew"] = "nephew", ["friend"] = "friend", ["boss"] = "boss",
        ["manager"] = "boss", ["colleague"] = "colleague", ["coworker"] = "colleague", ["roommate"] = "roommate", ["flatmate"] = "roommate",
        ["neighbor"] = "neighbour", ["neighbour"] = "neighbour", ["kid"] = "child", ["child"] = "child", ["stepmother"] = "stepmother",
        ["stepfather"] = "stepfather", ["stepson"] = "stepson", ["stepdaughter"] = "stepdaughter", ["therapist"] = "therapist",
        ["doctor"] = "doctor", ["teacher"] = "teacher", ["mentor"] = "mentor",
    };

    private static readonly Dictionary<string, string> Pets = new(StringComparer.Ordinal)
    {
        ["dog"] = "dog", ["puppy"] = "dog", ["pup"] = "dog", ["cat"] = "cat", ["kitten"] = "cat", ["kitty"] = "cat", ["parrot"] = "parrot",
        ["hamster"] = "hamster", ["rabbit"] = "rabbit", ["bunny"] = "rabbit", ["horse"] = "horse", ["pony"] = "horse", ["goldfish"] = "fish",
        ["fish"] = "fish", ["bird"] = "bird", ["turtle"] = "turtle", ["tortoise"] = "turtle", ["snake"] = "snake", ["lizard"] = "lizard",
        ["ferret"] = "ferret", ["pet"] = "pet", ["gecko"] = "lizard",
    };

    private static readonly HashSet<string> Adjectives = Set("little younger older big baby new best old twin late eldest youngest oldest elder dear two three");
    private static readonly HashSet<string> FirstPerson = Set("i i'm i've i'd i'll me my mine myself we we're we've we'll our ours us ourselves");

    /// <summary>Capitalised words that are never a name (sentence starters, pronouns, days, months).</summary>
    private static readonly HashSet<string> NotNames = Set("""
        i i'm i've i'd i'll im ive id ill a an the this that these those it it's its he she they we you he's she's they're we're you're
        my our your his her their me us them him what who whom whose where when why how which yes no not ok okay hi hey hello thanks
        thank oh wow so but and or if then than also just well maybe today yesterday tomorrow tonight last next there here now
        please sure great good nice cool awesome really actually anyway btw lol haha yeah yep nope sorry congrats congratulations
        monday tuesday wednesday thursday friday saturday sunday january february march april june july august september october
        november december christmas easter halloween thanksgiving user assistant am pm mr mrs ms dr after before during since until
        while because although though every each all some any many most few one two three first second new old let can could would
        should will shall may might must do does did done have has had having be is are was were been being get got go went
        met saw visited called talked took made bought watched read played tried started finished moved joined left lost found
        asked told helped celebrated attended booked planned loves likes prefers hates enjoys wants needs works lives uses owns
        plays thinks said says spent picked signed adopted drove flew
        """);

    /// <summary>Words that follow a subject name at the start of a sentence, confirming it is a name.</summary>
    private static readonly HashSet<string> SubjectVerbs = Set("""
        is was has had and said says moved moves lives lived works worked loves loved likes liked went got told tells just also
        recently will would can could wants wanted asked called bought visited started joined adopted made makes gave gets
        """);

    private static readonly HashSet<string> OrganisationWords = Set("""
        Inc Corp Corporation Ltd LLC GmbH University College School Academy Bank Company Co Group Hospital Clinic Institute
        Foundation Agency Studio Studios Labs Lab Technologies Systems Press Records Club Church Association Society Council
        """);

    private static readonly HashSet<string> PlaceWords = Set("""
        City Town Village Street St Avenue Ave Road Rd Park Lake River Beach Mountain Mountains Mount Island Islands Airport Bay
        Valley County State Province Square Falls Canyon Forest Coast Harbor Harbour Museum Cafe Café Restaurant Hotel Bar Mall
        """);

    private static readonly HashSet<string> Connectors = Set("of de da del la le van von");
    private static readonly HashSet<string> PlacePrepositions = Set("in near at around across outside inside visit visited visiting visits");
    private static readonly HashSet<string> Movement = Set("""
        moved move moving moves went go going goes trip travel traveled travelled traveling travelling flew fly flying drove drive
        driving relocated relocating back returned return returning vacation holiday holidays visit visited visiting headed heading
        """);
    private static readonly HashSet<string> WorkWords = Set("work works worked working job intern interned interning employed hired");
    private static readonly HashSet<string> Fillers = Set("also recently just now finally still currently has have had will 'll is was are am started eventually actually back");

    private static readonly (string[] Words, string Predicate)[] Verbs =
    [
        (["lives", "in"], Predicates.LivesIn), (["live", "in"], Predicates.LivesIn), (["lived", "in"], Predicates.LivesIn),
        (["living", "in"], Predicates.LivesIn), (["moved", "to"], Predicates.LivesIn), (["moves", "to"], Predicates.LivesIn),
        (["moving", "to"], Predicates.LivesIn), (["relocated", "to"], Predicates.LivesIn), (["based", "in"], Predicates.LivesIn),
        (["works", "at"], Predicates.WorksAt), (["work", "at"], Predicates.WorksAt), (["worked", "at"], Predicates.WorksAt),
        (["working", "at"], Predicates.WorksAt), (["works", "for"], Predicates.WorksAt), (["work", "for"], Predicates.WorksAt),
        (["worked", "for"], Predicates.WorksAt), (["working", "for"], Predicates.WorksAt), (["joined"], Predicates.WorksAt),
        (["employed", "by"], Predicates.WorksAt), (["job", "at"], Predicates.WorksAt),
    ];

    private readonly record struct Token(string Text, string Lower, string Base, bool Cap, bool SentenceStart, bool Possessive, bool Punct);

    private sealed class Found(string key, string? name, EntityType type, MentionRole role, bool isSelf, bool weak, bool typed)
    {
        public string Key = key;
        public string? Name = name;
        public EntityType Type = type;
        public MentionRole Role = role;
        public bool IsSelf = isSelf;
        public bool Weak = weak;
        public bool Typed = typed;
        public readonly List<string> Aliases = [];
    }

    public ValueTask<EntityExtraction> ExtractAsync(string text, bool firstPersonIsOwner, CancellationToken ct) =>
        ValueTask.FromResult(Extract(text, firstPersonIsOwner));

    public EntityExtraction Extract(string text, bool firstPersonIsOwner)
    {
        var tokens = Tokenize(text.Length > MaxChars ? text[..MaxChars] : text);
        if (tokens.Count == 0) return EntityExtraction.None;

        var found = new Dictionary<string, Found>(StringComparer.Ordinal);
        var relations = new List<RelationMention>();
        // which mention each token belongs to, so relation rules can find the subject just before a verb
        var owner = new string?[tokens.Count];

        Found Add(string key, string? name, EntityType type, MentionRole role, bool isSelf = false, bool weak = false, bool typed = false)
        {
            if (found.TryGetValue(key, out var f))
            {
                if (role < f.Role) f.Role = role;
                if (!weak) f.Weak = false;
                if (typed && !f.Typed) { f.Type = type; f.Typed = true; }
                return f;
            }
            if (found.Count >= MaxEntities) return new Found(key, name, type, role, isSelf, weak, typed); // counted out: not kept
            return found[key] = new Found(key, name, type, role, isSelf, weak, typed);
        }

        // 1. the owner, when the text speaks in the first person
        if (firstPersonIsOwner)
            for (var i = 0; i < tokens.Count; i++)
                if (FirstPerson.Contains(tokens[i].Lower))
                {
                    Add("self", null, EntityType.Person, tokens[i].Lower is "i" or "i'm" or "i've" or "i'd" or "i'll" or "we" ? MentionRole.Subject : MentionRole.Mention, isSelf: true);
                    owner[i] = "self";
                }

        // 2. names: runs of capitalised words ("University of Porto" keeps its connector)
        var spans = new List<(int Start, int End)>();
        for (var i = 0; i < tokens.Count; i++)
        {
            if (!IsNameWord(tokens[i])) continue;
            var end = i;
            while (end + 1 < tokens.Count && end - i + 1 < MaxNameTokens && !tokens[end].Possessive)
            {
                if (IsNameWord(tokens[end + 1]) && !tokens[end + 1].SentenceStart) end++;
                else if (end + 2 < tokens.Count && Connectors.Contains(tokens[end + 1].Lower) && IsNameWord(tokens[end + 2])) end += 2;
                else break;
            }
            spans.Add((i, end));
            i = end;
        }
        var spanAt = new Dictionary<int, (int Start, int End)>();
        var spanEnd = new Dictionary<int, (int Start, int End)>();
        foreach (var s in spans) { spanAt[s.Start] = s; spanEnd[s.End] = s; }
        foreach (var (start, end) in spans)
        {
            var name = string.Join(' ', Enumerable.Range(start, end - start + 1).Select(k => tokens[k].Base));
            var (type, typed) = TypeOf(tokens, start, end);
            var weak = tokens[start].SentenceStart && start == end
                && !(end + 1 < tokens.Count && (SubjectVerbs.Contains(tokens[end + 1].Lower) || tokens[end].Possessive));
            var f = Add("n:" + Normalize(name), name, type, MentionRole.Mention, weak: weak, typed: typed);
            for (var k = start; k <= end; k++) owner[k] = f.Key;
        }

        // 3. possessive family and pet phrases: "my sister Anna", "our dog, Rex", "my sister is Anna", "Anna is my sister"
        for (var i = 0; i + 1 < tokens.Count; i++)
        {
            if (tokens[i].Lower is not ("my" or "our" or "his" or "her" or "their")) continue;
            var j = i + 1;
            while (j < tokens.Count && j - i <= 2 && Adjectives.Contains(tokens[j].Lower)) j++;
            if (j >= tokens.Count) break;
            var word = tokens[j].Base.ToLowerInvariant();
            var isPet = Pets.TryGetValue(word, out var relation);
            if (!isPet && !People.TryGetValue(word, out relation)) continue;
            if (tokens[j - 1].Lower == "best" && relation == "friend") relation = "best_friend";
            var ownerIsSelf = firstPersonIsOwner && tokens[i].Lower is "my" or "our";

            // the name after it, before it ("Anna is my sister", "Anna, my sister"), or none
            (int Start, int End)? named = null;
            var k = j + 1;
            if (tokens[j].Possessive && k + 1 < tokens.Count && tokens[k].Lower == "name" && tokens[k + 1].Lower is "is" or "was") k += 2;
            else
            {
                if (k < tokens.Count && tokens[k].Text == ",") k++;
                if (k < tokens.Count && tokens[k].Lower is "named" or "called" or "is" or "was") k++;
            }
            if (k < tokens.Count && spanAt.TryGetValue(k, out var after)) named = after;
            else if (i >= 2 && tokens[i - 1].Lower is "is" or "was" or "," && spanEnd.TryGetValue(i - 2, out var before))
                named = before;

            var type = isPet ? EntityType.Pet : EntityType.Person;
            Found f;
            if (named is { } n)
            {
                var name = string.Join(' ', Enumerable.Range(n.Start, n.End - n.Start + 1).Select(x => tokens[x].Base));
                f = Add("n:" + Normalize(name), name, type, MentionRole.Mention, typed: true);
                f.Weak = false;
                if (!f.Typed || f.Type != type) { f.Type = type; f.Typed = true; }
            }
            else f = Add("a:" + relation, null, type, MentionRole.Mention, typed: true);
            if (ownerIsSelf)
            {
                if (!f.Aliases.Contains(relation!)) f.Aliases.Add(relation!);
                if (word != relation && !f.Aliases.Contains(word)) f.Aliases.Add(word);
                if (found.ContainsKey("self") && relations.Count < MaxRelations) relations.Add(new RelationMention("self", relation!, f.Key));
            }
            for (var x = i; x <= j; x++) owner[x] = f.Key;
            if (named is { } m) for (var x = m.Start; x <= m.End; x++) owner[x] = f.Key;
        }

        // 4. relations: a mention, a verb phrase, a name ("Anna moved to Lisbon", "I work at Acme")
        for (var i = 1; i < tokens.Count && relations.Count < MaxRelations; i++)
        {
            if (owner[i - 1] is not { } subject) continue;
            var j = i;
            while (j < tokens.Count && j - i < 2 && Fillers.Contains(tokens[j].Lower)) j++;
            foreach (var (words, predicate) in Verbs)
            {
                if (j + words.Length >= tokens.Count) continue;
                var match = true;
                for (var w = 0; w < words.Length && match; w++) match = tokens[j + w].Lower == words[w];
                if (!match) continue;
                var o = j + words.Length;
                if (tokens[o].Lower == "the" && o + 1 < tokens.Count) o++;
                if (!spanAt.TryGetValue(o, out var obj) || owner[obj.Start] is not { } objectKey || objectKey == subject) break;
                var of = found[objectKey];
                if (!of.Typed || of.Type == EntityType.Person)
                {
                    of.Type = predicate == Predicates.WorksAt ? EntityType.Organisation : EntityType.Place;
                    of.Typed = true;
                }
                of.Weak = false;
                of.Role = MentionRole.Object;
                if (found.TryGetValue(subject, out var sf)) { sf.Weak = false; sf.Role = MentionRole.Subject; }
                relations.Add(new RelationMention(subject, predicate, objectKey));
                break;
            }
        }

        var entities = found.Values.Select(f => new EntityMention(f.Key, f.Name, f.Type, f.Aliases, f.Role, f.IsSelf, f.Weak)).ToList();
        return new EntityExtraction(entities, relations.Distinct().ToList());
    }

    /// <summary>Lower case, single spaces: the form names and aliases are matched in.</summary>
    public static string Normalize(string name) => string.Join(' ', name.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>The lower-case words of a text (queries), apostrophe-s dropped, at most <paramref name="max"/>.</summary>
    public static List<string> Words(string text, int max)
    {
        var words = new List<string>();
        foreach (var t in Tokenize(text.Length > MaxChars ? text[..MaxChars] : text))
        {
            if (t.Punct) continue;
            words.Add(t.Base.ToLowerInvariant());
            if (words.Count >= max) break;
        }
        return words;
    }

    private static bool IsNameWord(Token t) =>
        t.Cap && !t.Punct && !NotNames.Contains(t.Lower) && !NotNames.Contains(t.Base.ToLowerInvariant()) && t.Base.Length > 1
        // a sentence that starts with a verb ("Visited Aveiro", "Talking to Ana")
        && !(t.SentenceStart && t.Lower.Length > 4 && (t.Lower.EndsWith("ed", StringComparison.Ordinal) || t.Lower.EndsWith("ing", StringComparison.Ordinal)));

    private static (EntityType Type, bool Typed) TypeOf(List<Token> tokens, int start, int end)
    {
        for (var k = start; k <= end; k++)
        {
            if (OrganisationWords.Contains(tokens[k].Base)) return (EntityType.Organisation, true);
            if (PlaceWords.Contains(tokens[k].Base)) return (EntityType.Place, true);
        }
        if (start == 0) return (EntityType.Person, false);
        var before = tokens[start - 1].Lower;
        var before2 = start >= 2 ? tokens[start - 2].Lower : "";
        if ((before is "at" or "for" or "by" or "joined") && WorkWords.Contains(before2)) return (EntityType.Organisation, true);
        if (before == "joined") return (EntityType.Organisation, true);
        if (PlacePrepositions.Contains(before)) return (EntityType.Place, true);
        if ((before is "to" or "from") && Movement.Contains(before2)) return (EntityType.Place, true);
        if (before == "from" && before2 is "am" or "is" or "are" or "was" or "were" or "come" or "comes" or "came" or "originally") return (EntityType.Place, true);
        return (EntityType.Person, false);
    }

    /// <summary>Words (letters and digits, with inner apostrophes and hyphens) and sentence punctuation, in one pass.</summary>
    private static IEnumerable<(int Index, int Length)> Scan(string text)
    {
        var i = 0;
        while (i < text.Length)
        {
            var ch = text[i];
            if (char.IsLetterOrDigit(ch))
            {
                var start = i++;
                while (i < text.Length)
                {
                    if (char.IsLetterOrDigit(text[i])) i++;
                    else if (text[i] is '\'' or '’' or '-' && i + 1 < text.Length && char.IsLetterOrDigit(text[i + 1])) i += 2;
                    else break;
                }
                yield return (start, i - start);
            }
            else
            {
                if (ch is '.' or '!' or '?' or ';' or ':' or ',' or '(' or ')' or '"') yield return (i, 1);
                i++;
            }
        }
    }

    private static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var sentenceStart = true;
        foreach (var (index, length) in Scan(text))
        {
            var raw = text.Substring(index, length);
            if (raw.Length == 1 && !char.IsLetterOrDigit(raw[0]))
            {
                tokens.Add(new Token(raw, raw, raw, false, sentenceStart, false, true));
                if (raw is "." or "!" or "?" or ";" or ":" or "\"" or "(" or ")") sentenceStart = true;
                if (tokens.Count >= MaxTokens) break;
                continue;
            }
            var possessive = raw.EndsWith("'s", StringComparison.OrdinalIgnoreCase) || raw.EndsWith("’s", StringComparison.OrdinalIgnoreCase);
            var @base = possessive ? raw[..^2] : raw.Replace('’', '\'');
            var lower = raw.Replace('’', '\'').ToLowerInvariant();
            tokens.Add(new Token(raw, lower, @base, char.IsUpper(raw[0]), sentenceStart, possessive, false));
            sentenceStart = false;
            if (tokens.Count >= MaxTokens) break;
        }
        return tokens;
    }
}

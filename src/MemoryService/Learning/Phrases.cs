using System.Text.RegularExpressions;

namespace MemoryService.Learning;

/// <summary>Word-level helpers for the rules: cleaning captured phrases, keys, third-person wording, lexicons.</summary>
internal static partial class Phrases
{
    private const RegexOptions Options = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.NonBacktracking;

    // Topics a preference can be about, longest term first so "oat milk" is milk, not a drink named "oat".
    private static readonly (string Term, string Topic)[] Topics =
    [
        ("almond milk", "milk_preference"), ("oat milk", "milk_preference"), ("soy milk", "milk_preference"),
        ("whole milk", "milk_preference"), ("skim milk", "milk_preference"), ("lactose-free milk", "milk_preference"),
        ("window seat", "seat_preference"), ("aisle seat", "seat_preference"),
        ("green tea", "drink_preference"), ("herbal tea", "drink_preference"), ("black tea", "drink_preference"),
        ("coffee", "drink_preference"), ("tea", "drink_preference"), ("decaf", "drink_preference"),
        ("espresso", "drink_preference"), ("latte", "drink_preference"), ("cappuccino", "drink_preference"),
        ("matcha", "drink_preference"), ("hot chocolate", "drink_preference"),
        ("alcohol", "alcohol"), ("beer", "alcohol"), ("wine", "alcohol"),
        ("linux", "operating_system_preference"), ("windows", "operating_system_preference"),
        ("macos", "operating_system_preference"), ("ubuntu", "operating_system_preference"), ("mac", "operating_system_preference"),
        ("iphone", "phone_preference"), ("android", "phone_preference"),
        ("vs code", "editor_preference"), ("vscode", "editor_preference"), ("vim", "editor_preference"), ("emacs", "editor_preference"),
        ("metric", "units_preference"), ("imperial", "units_preference"), ("celsius", "units_preference"), ("fahrenheit", "units_preference"),
    ];

    private static readonly (string Term, string Topic)[] InstructionTopics =
    [
        ("emoji", "emoji_usage"), ("bullet point", "formatting"), ("markdown", "formatting"), ("table", "formatting"),
        ("short", "response_length"), ("shorter", "response_length"), ("brief", "response_length"), ("concise", "response_length"),
        ("detailed", "response_length"), ("longer", "response_length"), ("long", "response_length"),
        ("metric", "units_preference"), ("imperial", "units_preference"), ("celsius", "units_preference"), ("fahrenheit", "units_preference"),
    ];

    private static readonly HashSet<string> Stopwords = ["a", "an", "the", "my", "our", "your", "their", "his", "her", "some"];

    private static readonly HashSet<string> Demonyms =
    [
        "american", "british", "english", "scottish", "irish", "welsh", "german", "french", "spanish", "italian",
        "dutch", "polish", "swedish", "danish", "norwegian", "finnish", "canadian", "mexican", "brazilian", "indian",
        "chinese", "japanese", "korean", "australian", "russian", "ukrainian", "turkish", "greek", "portuguese", "swiss",
        "austrian", "belgian", "argentinian", "nigerian", "kenyan", "egyptian", "israeli", "pakistani", "vietnamese",
        "sorry", "here", "back", "good", "fine", "ok", "okay", "done", "ready", "new", "sure",
    ];

    private static readonly HashSet<string> NotNames =
    [
        "back", "later", "tomorrow", "when", "if", "crazy", "maybe", "anytime", "whenever", "anything", "whatever",
        "sometime", "at", "on", "a", "an", "the", "now", "asap", "please", "soon", "again",
    ];

    private static readonly HashSet<string> Occupations =
    [
        "nurse", "chef", "cook", "medic", "clerk", "pilot", "nanny", "barista", "surgeon", "dentist", "vet", "coach",
        "tutor", "paramedic", "firefighter", "plumber", "carpenter", "electrician", "farmer", "student", "intern",
        "retiree", "freelancer", "architect", "pharmacist", "physiotherapist", "therapist", "mechanic", "programmer",
        "scientist", "artist", "journalist", "editor", "analyst", "consultant", "accountant", "attorney", "lawyer",
        "doctor", "teacher", "professor", "engineer", "developer", "designer", "manager", "researcher", "writer",
        "photographer", "translator", "musician", "librarian", "paralegal", "midwife", "cashier", "driver", "soldier",
        "officer", "secretary", "receptionist", "baker", "butcher", "waiter", "waitress", "bartender", "pastor",
        "priest", "rabbi", "economist", "psychologist", "surveyor", "entrepreneur", "founder", "ceo", "cto", "pm",
    ];

    // Nouns with an occupation-like ending that describe habits, roles or diets instead of a job.
    private static readonly HashSet<string> NotOccupations =
    [
        "fan", "lover", "person", "beginner", "riser", "sleeper", "eater", "drinker", "smoker", "runner", "member",
        "user", "customer", "believer", "reader", "gamer", "owner", "parent", "patient", "resident", "citizen",
        "native", "vegetarian", "pescatarian", "vegan", "christian", "introvert", "extrovert", "perfectionist",
        "optimist", "pessimist", "foodie", "newbie", "mother", "father", "grandmother", "grandfather", "brother",
        "sister", "daughter", "son", "twin", "survivor", "speaker", "learner", "traveler", "traveller", "worrier",
        "procrastinator", "insomniac", "diabetic", "catholic", "muslim", "atheist", "vegetarian", "adult", "teenager",
    ];

    private static readonly HashSet<string> Persons =
    [
        "boss", "friend", "friends", "colleague", "colleagues", "coworker", "coworkers", "manager", "neighbour",
        "neighbor", "neighbours", "neighbors", "roommate", "flatmate", "teacher", "doctor", "partner", "wife",
        "husband", "boyfriend", "girlfriend", "son", "daughter", "sister", "brother", "mom", "mum", "mother", "dad",
        "father", "parents", "kids", "children", "family", "team", "grandma", "grandpa", "aunt", "uncle", "cousin",
        "best friend", "landlord", "client", "clients", "dog", "cat",
    ];

    public static string Slug(string phrase)
    {
        var words = NonWord().Replace(Possessive().Replace(phrase.ToLowerInvariant(), ""), " ")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(w => !Stopwords.Contains(w));
        return string.Join('_', words);
    }

    /// <summary>Cuts a captured object at the first clause break and drops trailing fillers ("a lot", "these days").</summary>
    public static string CleanObject(string phrase)
    {
        var cut = ClauseBreak().Replace(phrase, "");
        string previous;
        do
        {
            previous = cut;
            cut = TrailingFiller().Replace(cut, "").Trim().TrimEnd('.', '!', ',', ';', ':', ' ');
        } while (cut != previous);
        return cut.Trim();
    }

    /// <summary>Keeps the whole phrase ("coffee, black, no sugar") but drops end punctuation and chat fillers.</summary>
    public static string CleanPhrase(string phrase) =>
        TrailingChatter().Replace(Condition().Replace(phrase, ""), "").Trim().TrimEnd('.', '!', ',', ';', ' ');

    public static string CleanPlace(string phrase) => PlaceBreak().Replace(phrase, "").Trim().TrimEnd('.', '!', ',');

    public static string CleanName(string phrase) => CleanObject(NameBreak().Replace(phrase, ""));

    public static IEnumerable<string> SplitList(string list) =>
        ListSeparator().Split(list).Select(item => item.Trim()).Where(item => item.Length > 0);

    /// <summary>Rewrites a first-person phrase in the third person: "my parents" becomes "their parents".</summary>
    public static string ThirdPerson(string phrase) => FirstPerson().Replace(phrase, m => m.Value.ToLowerInvariant() switch
    {
        "my" or "our" => "their",
        "me" or "us" => "them",
        "i" or "we" => "they",
        "myself" or "ourselves" => "themselves",
        "mine" or "ours" => "theirs",
        "your" => "its",
        _ => m.Value,
    });

    public static string Capitalise(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

    /// <summary>"I like that idea!", "I love it": reactions to the conversation, not lasting preferences.</summary>
    public static bool IsReaction(string thing) => Reaction().IsMatch(thing);

    public static string? Topic(string phrase) => FindTopic(Topics, phrase);

    public static string? InstructionTopic(string instruction) =>
        InLanguage().IsMatch(instruction) ? "response_language" : FindTopic(InstructionTopics, instruction) ?? Topic(instruction);

    public static bool IsMeat(string food) => MeatWords().IsMatch(food);

    public static bool IsDemonym(string word) => Demonyms.Contains(word.ToLowerInvariant());

    public static bool IsNotAName(string name) => NotNames.Contains(name.Split(' ')[0].ToLowerInvariant());

    public static bool IsPerson(string noun) => Persons.Contains(noun.Trim().ToLowerInvariant());

    public static bool IsRelation(string noun) => RelationWord().IsMatch(noun.Trim());

    public static bool IsOccupation(string job)
    {
        var last = job.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1].ToLowerInvariant();
        if (NotOccupations.Contains(last) || Enthusiast().IsMatch(job))
            return false;
        return Occupations.Contains(last) || OccupationSuffix().IsMatch(last);
    }

    public static string LikeVerb(string verb, bool liked) => verb.ToLowerInvariant() switch
    {
        var v when liked && (v.Contains("love") || v.Contains("adore") || v.Contains("obsessed")) => "Loves",
        var v when !liked && (v.Contains("hate") || v.Contains("stand") || v.Contains("loathe") || v.Contains("detest") || v.Contains("despise")) => "Hates",
        _ => liked ? "Likes" : "Dislikes",
    };

    public static string Relation(string word) => Singular(word.ToLowerInvariant()) switch
    {
        "mom" or "mum" or "mommy" => "mother",
        "dad" or "daddy" => "father",
        "grandma" => "grandmother",
        "grandpa" => "grandfather",
        "fiance" or "fiancee" or "fiancé" or "fiancée" => "fiance",
        var other => other,
    };

    public static string Singular(string noun) => noun switch
    {
        "children" => "child",
        "puppies" => "puppy",
        "bunnies" => "bunny",
        "mice" => "mouse",
        "fish" or "goldfish" => noun,
        _ when noun.EndsWith("ches", StringComparison.Ordinal) || noun.EndsWith("shes", StringComparison.Ordinal) => noun[..^2],
        _ when noun.EndsWith('s') && !noun.EndsWith("ss", StringComparison.Ordinal) => noun[..^1],
        _ => noun,
    };

    public static int Count(string word) => word.ToLowerInvariant() switch
    {
        "" or "a" or "an" or "one" => 1,
        "two" or "a couple of" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        var digits => int.TryParse(digits, out var n) ? n : 1,
    };

    /// <summary>"a dog", "2 cats".</summary>
    public static string CountPhrase(string count, string noun)
    {
        var n = Count(count);
        return n == 1 ? $"{Article(noun)} {noun}" : $"{n} {Plural(noun)}";
    }

    public static string Article(string noun) => "aeiou".Contains(char.ToLowerInvariant(noun[0])) ? "an" : "a";

    public static string BaseVerb(string verb) => verb.ToLowerInvariant() switch
    {
        "flying" => "fly",
        "travelling" or "traveling" => "travel",
        "driving" => "drive",
        "moving" => "move",
        "taking the train" => "take the train",
        "heading" or "going" or "off" => "go",
        var plain => plain,
    };

    /// <summary>"on March 3" becomes "March 3", for facts that recur every year.</summary>
    public static string DateWords(string text) => LeadingPreposition().Replace(text, "").Trim();

    private static string Plural(string noun) => noun switch
    {
        "child" => "children",
        "puppy" => "puppies",
        "mouse" => "mice",
        "fish" or "goldfish" => noun,
        _ when noun.EndsWith("ch", StringComparison.Ordinal) || noun.EndsWith("sh", StringComparison.Ordinal) || noun.EndsWith('s') => noun + "es",
        _ => noun + "s",
    };

    private static string? FindTopic((string Term, string Topic)[] lexicon, string phrase)
    {
        if (phrase.Length == 0)
            return null;
        foreach (var (term, topic) in lexicon)
        {
            var at = phrase.IndexOf(term, StringComparison.OrdinalIgnoreCase);
            while (at >= 0)
            {
                var end = at + term.Length;
                var startsWord = at == 0 || !char.IsLetter(phrase[at - 1]);
                var endsWord = end == phrase.Length || !char.IsLetter(phrase[end]) || phrase[end] == 's';
                if (startsWord && endsWord)
                    return topic;
                at = phrase.IndexOf(term, end, StringComparison.OrdinalIgnoreCase);
            }
        }
        return null;
    }

    [GeneratedRegex(@"'s\b", Options)]
    private static partial Regex Possessive();

    [GeneratedRegex(@"[^a-z0-9]+", Options)]
    private static partial Regex NonWord();

    [GeneratedRegex(@"\s*(?:[,;:(]|\s-\s|\b(?:because|but|since|when|whenever|although|though|unless|especially|except|so that|which|who|while|if)\b).*$", Options | RegexOptions.Singleline)]
    private static partial Regex ClauseBreak();

    [GeneratedRegex(@"\s+(?:a lot|a little|so much|very much|too|as well|anymore|any more|these days|lately|nowadays|now|at all|tbh|honestly|btw|lol|haha|really|though|on weekends|on the weekends?|every day|everyday|in my (?:free|spare) time|for good|again|either|in general|generally|more and more|more than anything|the most|most of all|here)$", Options)]
    private static partial Regex TrailingFiller();

    [GeneratedRegex(@"(?:\s*,?\s*\b(?:btw|tbh|lol|haha|thanks|thank you|please|from now on)\b)+\s*[.!]*$", Options)]
    private static partial Regex TrailingChatter();

    [GeneratedRegex(@"\s*,?\s*\b(?:if|because|since|unless|when|whenever|as long as)\b.*$", Options | RegexOptions.Singleline)]
    private static partial Regex Condition();

    [GeneratedRegex(@"\s*(?:,|\s-\s|\b(?:for|with|because|since|and|but|where|which|now|currently|originally|these days|at the moment|right now|at|as)\b).*$", Options)]
    private static partial Regex PlaceBreak();

    [GeneratedRegex(@"\s*(?:,|\b(?:and|but|by the way|btw|please|from now on|instead|though|because|since|if|for short|for now)\b).*$", Options)]
    private static partial Regex NameBreak();

    [GeneratedRegex(@"\s*(?:,|\band\b|\bor\b|&|/)\s*", Options)]
    private static partial Regex ListSeparator();

    [GeneratedRegex(@"\b(?:my|our|me|us|I|we|myself|ourselves|mine|ours|your)\b", Options)]
    private static partial Regex FirstPerson();

    [GeneratedRegex(@"^(?:it|this|that|these|those|them|him|her|you|yours|what you|how you|the way you|your (?:answer|idea|suggestion|response|reply|plan|approach|help)|(?:the|this|that) (?:idea|answer|one|response|suggestion|plan|approach|option)|I\b|he\b|she\b|they\b|we\b|to (?:bother|say|admit|ask|interrupt|hear|know|think|see|help|be honest)\b)", Options)]
    private static partial Regex Reaction();

    [GeneratedRegex(@"\bin\s+(?:english|german|spanish|french|italian|portuguese|dutch|polish|swedish|danish|norwegian|finnish|japanese|chinese|mandarin|korean|russian|ukrainian|turkish|greek|arabic|hebrew|hindi|czech|hungarian|romanian)\b", Options)]
    private static partial Regex InLanguage();

    [GeneratedRegex(@"^(?:meat|red meat|any meat|animal products|meat or fish|meat and fish|meat anymore|poultry|chicken or beef)\b", Options)]
    private static partial Regex MeatWords();

    [GeneratedRegex(@"^(?:wife|husband|partner|spouse|boyfriend|girlfriend|fianc[eé]e?|sons?|daughters?|sisters?|brothers?|mom|mum|mother|dad|father|grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|niece|nephew|twin|baby|child|children|kids?)$", Options)]
    private static partial Regex RelationWord();

    // "a huge Arsenal supporter", "a bit of a coffee snob": enthusiasm or self-description, not a job.
    [GeneratedRegex(@"^(?:bit\b|huge\b|big\b|massive\b|avid\b|die-hard\b|diehard\b|keen\b|proud\b|total\b|complete\b)|\b(?:supporter|enthusiast|follower|snob|addict|nerd|geek|junkie|buff|aficionado)$", Options)]
    private static partial Regex Enthusiast();

    [GeneratedRegex(@"(?:er|or|ist|ian|eer|ant|ent)$", Options)]
    private static partial Regex OccupationSuffix();

    [GeneratedRegex(@"^(?:on|in)\s+(?:the\s+)?", Options)]
    private static partial Regex LeadingPreposition();
}

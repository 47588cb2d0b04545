using System.Text.RegularExpressions;
using MemoryService.Memories;

namespace MemoryService.Learning;

/// <summary>One clause of a user sentence, contractions expanded, with its date expression cut out.</summary>
internal sealed record Clause(string Text, ResolvedDate? Date, bool StandingInstruction);

/// <summary>What a rule read from a clause; the rule adds kind, importance and confidence.</summary>
internal sealed record Finding(string Key, string Content);

/// <summary>
/// A row of the rule table: a pattern anchored at the start of a clause and what to make of a match.
/// <c>NeedsDate</c> rules (plans and past events) only run when the clause names a date.
/// </summary>
internal sealed record ExtractionRule(
    string Name,
    MemoryKind Kind,
    double Importance,
    double Confidence,
    Regex Pattern,
    Func<Match, Clause, Finding[]> Read,
    bool NeedsDate = false);

/// <summary>
/// The rules, in the order they are tried; the first rule that reads a clause wins. Every pattern starts with a
/// first-person subject ("I", "we", "my", "our") or an imperative, which is what keeps statements about other
/// people ("my sister is vegetarian", "Tom lives in Paris") out: no rule reads them as the user's.
/// </summary>
internal static partial class ExtractionRules
{
    private const RegexOptions Options = Lookaround | RegexOptions.NonBacktracking;
    // For the two patterns with a negative lookahead (not supported by NonBacktracking); they run with a timeout.
    private const RegexOptions Lookaround = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture;

    // Fragments shared by the patterns (contractions are already expanded: "I'm" reads "I am").
    private const string Adverbs = @"(?:(?:really|absolutely|just|truly|totally|honestly|also|actually|genuinely|still|now|kind of|kinda|so|do|definitely|generally|usually|always|much|mostly|only|currently|recently|finally|personally|seriously|simply|quite|very)\s+)*";
    private const string Relations = "wife|husband|partner|spouse|boyfriend|girlfriend|fianc[eé]e?|son|daughter|sister|brother|mom|mum|mother|mommy|dad|father|daddy|grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|niece|nephew|stepson|stepdaughter|twin|baby|child|kid";
    private const string Species = "dog|cat|puppy|kitten|rabbit|bunny|hamster|guinea pig|parrot|budgie|bird|horse|goldfish|fish|turtle|tortoise|snake|lizard|gecko|ferret|chinchilla|rat|mouse";
    private const string Number = @"a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d{1,2}";
    private const string CapitalName = @"(?-i:[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?)";
    private const string AnyName = @"[a-z][\w'-]*";
    private const string Place = @"(?-i:[A-Z][\w'.-]*)(?:\s+(?-i:[A-Z][\w'.-]*))*";
    private const string Have = @"(?:have|have got|got|own|adopted|have adopted|just got|just adopted)";

    public static readonly ExtractionRule[] All =
    [
        // Names and how to address the user
        new("avoid name", MemoryKind.Preference, 0.7, 0.9, AvoidName(),
            (m, _) => One($"avoid_name:{Phrases.Slug(m.Groups["name"].Value)}", $"Does not want to be called {m.Groups["name"].Value}")),
        new("call me", MemoryKind.Preference, 0.8, 0.9, CallMe(), (m, _) => PreferredName(m.Groups["name"].Value)),
        new("go by", MemoryKind.Preference, 0.8, 0.85, GoBy(), (m, _) => PreferredName(m.Groups["name"].Value)),
        new("my name", MemoryKind.Fact, 0.85, 0.95, MyName(), (m, _) => One("name", $"Is named {Phrases.Capitalise(Phrases.CleanName(m.Groups["name"].Value))}")),
        new("I am <Name>", MemoryKind.Fact, 0.85, 0.6, IAmName(), (m, _) => Phrases.IsDemonym(m.Groups["name"].Value) ? [] : One("name", $"Is named {m.Groups["name"].Value}")),

        // Health and diet come before likes: they matter most when building context
        new("allergic to", MemoryKind.Fact, 0.95, 0.95, AllergicTo(), (m, _) => Allergies(m.Groups["list"].Value)),
        new("<x> allergy", MemoryKind.Fact, 0.95, 0.9, AllergyNoun(), (m, _) => Allergies(m.Groups["list"].Value)),
        new("intolerant", MemoryKind.Fact, 0.85, 0.9, Intolerant(), (m, _) => One($"intolerance:{Phrases.Slug(m.Groups["what"].Value)}", $"Is {m.Groups["what"].Value.ToLowerInvariant()} intolerant")),
        new("condition", MemoryKind.Fact, 0.9, 0.85, Condition(), (m, _) => One($"condition:{Phrases.Slug(m.Groups["what"].Value)}", $"Has {m.Groups["what"].Value}")),
        new("diet", MemoryKind.Fact, 0.85, 0.9, Diet(), (m, _) => One("diet", $"Is {m.Groups["diet"].Value.ToLowerInvariant()}")),
        new("eats fish", MemoryKind.Fact, 0.8, 0.8, EatsFish(), (m, _) => One("diet", $"Eats {m.Groups["what"].Value} (pescatarian)")),
        new("does not eat", MemoryKind.Fact, 0.8, 0.85, DoesNotEat(), (m, _) => NotEating(Phrases.CleanObject(m.Groups["obj"].Value))),

        // Preferences that name a topic, so a later switch replaces them
        new("does not drink", MemoryKind.Preference, 0.6, 0.85, DoesNotDrink(), (m, _) => Drinks(m.Groups["obj"].Value, negated: true)),
        new("drinks", MemoryKind.Preference, 0.6, 0.8, Drink(), (m, _) => Drinks(m.Groups["obj"].Value, negated: false)),
        new("switched to", MemoryKind.Preference, 0.65, 0.85, SwitchedTo(), (m, _) => Switched(m)),
        new("prefer", MemoryKind.Preference, 0.65, 0.9, Prefer(), (m, _) => Prefers(m)),
        new("standing instruction", MemoryKind.Preference, 0.75, 0.85, Instruction(), Instructions),

        // Likes and dislikes share one key per thing, so "I don't like X" replaces "I love X"
        new("dislike", MemoryKind.Preference, 0.55, 0.85, Dislike(), (m, _) => Likes(m, liked: false)),
        new("like", MemoryKind.Preference, 0.5, 0.85, Like(), (m, _) => Likes(m, liked: true)),

        // Personal facts
        new("lives in", MemoryKind.Fact, 0.7, 0.9, LivesIn(), (m, _) => Location(m.Groups["place"].Value)),
        new("moved to", MemoryKind.Fact, 0.7, 0.85, MovedTo(), (m, _) => Location(m.Groups["place"].Value)),
        new("from", MemoryKind.Fact, 0.5, 0.85, ComesFrom(), (m, _) => Hometown(m.Groups["place"].Value)),
        new("grew up in", MemoryKind.Fact, 0.5, 0.85, GrewUpIn(), (m, _) => Hometown(m.Groups["place"].Value)),
        new("works as", MemoryKind.Fact, 0.7, 0.9, WorksAs(), (m, _) => Occupation(m.Groups["job"].Value, checkWord: false)),
        new("I am a <job>", MemoryKind.Fact, 0.7, 0.7, IAmA(), (m, _) => Occupation(m.Groups["job"].Value, checkWord: true)),
        new("works at", MemoryKind.Fact, 0.6, 0.9, WorksAt(), (m, _) => One("employer", $"Works {m.Groups["prep"].Value.ToLowerInvariant()} {Phrases.CleanObject(m.Groups["org"].Value)}")),
        new("favourite", MemoryKind.Preference, 0.55, 0.9, Favourite(), (m, _) => ReadFavourite(m)),
        new("speaks", MemoryKind.Fact, 0.5, 0.85, Speaks(), (m, _) => One("languages", $"Speaks {Phrases.CleanPhrase(m.Groups["langs"].Value)}")),
        new("age", MemoryKind.Fact, 0.6, 0.9, Age(), (m, _) => One("age", $"Is {m.Groups["n"].Value} years old")),
        new("marital status", MemoryKind.Fact, 0.6, 0.85, Marital(), (m, _) => One("marital_status", $"Is {m.Groups["s"].Value.ToLowerInvariant()}")),
        new("birthday", MemoryKind.Fact, 0.7, 0.9, Birthday(), (m, c) => c.Date is null ? [] : One("birthday", $"Birthday is on {Phrases.DateWords(c.Date.Text)}")),
        new("born", MemoryKind.Fact, 0.6, 0.9, Born(), (m, c) => Born(c)),

        // Family and pets; the named relative is remembered, never what the relative likes
        new("relative is named", MemoryKind.Fact, 0.7, 0.9, RelativeIsNamed(), (m, _) => Relative(m.Groups["rel"].Value, "", m.Groups["name"].Value)),
        new("my <relative> <Name>", MemoryKind.Fact, 0.7, 0.8, RelativeName(), (m, _) => Relative(m.Groups["rel"].Value, "", m.Groups["name"].Value)),
        new("has children", MemoryKind.Fact, 0.7, 0.9, HasChildren(), (m, _) => One("children", $"Has {Phrases.Count(m.Groups["n"].Value)} children")),
        new("has a pet", MemoryKind.Fact, 0.6, 0.9, HasPet(), (m, _) => Pet(m.Groups["species"].Value, m.Groups["n"].Value, m.Groups["name"].Value)),
        new("has a relative", MemoryKind.Fact, 0.6, 0.85, HasRelative(), (m, _) => Relative(m.Groups["rel"].Value, m.Groups["n"].Value, m.Groups["name"].Value)),
        new("has a <x> named", MemoryKind.Fact, 0.6, 0.75, HasNamed(), (m, _) => Phrases.IsRelation(m.Groups["what"].Value)
            ? Relative(m.Groups["what"].Value, "a", m.Groups["name"].Value)
            : Pet(m.Groups["what"].Value, "a", m.Groups["name"].Value)),
        new("pet is named", MemoryKind.Fact, 0.6, 0.85, PetIsNamed(), (m, _) => Pet(m.Groups["species"].Value, "a", m.Groups["name"].Value)),

        // Plans and past events: only with a resolved date
        new("my flight to", MemoryKind.Event, 0.7, 0.9, FlightTo(), (m, c) => Trip("fly", m.Groups["place"].Value, c), NeedsDate: true),
        new("travelling to", MemoryKind.Event, 0.7, 0.9, TravelTo(), (m, c) => Trip(Phrases.BaseVerb(m.Groups["verb"].Value), m.Groups["place"].Value, c), NeedsDate: true),
        new("going to the", MemoryKind.Event, 0.6, 0.85, GoingToThe(), (m, c) => Event(m.Groups["obj"].Value, $"Plans to go to {Phrases.ThirdPerson(Phrases.CleanObject(m.Groups["what"].Value))}", c), NeedsDate: true),
        new("going to <verb>", MemoryKind.Event, 0.6, 0.8, GoingToDo(), (m, c) => Event(m.Groups["vp"].Value, $"Plans to {Phrases.ThirdPerson(Phrases.CleanObject(m.Groups["vp"].Value))}", c), NeedsDate: true),
        new("has an appointment", MemoryKind.Event, 0.6, 0.85, HasAppointment(), (m, c) => Event(m.Groups["obj"].Value, $"Has {Phrases.ThirdPerson(Phrases.CleanObject(m.Groups["what"].Value))}", c), NeedsDate: true),
        new("my <event> is", MemoryKind.Event, 0.6, 0.85, EventIs(), SubjectEvent, NeedsDate: true),
        new("I am <doing>", MemoryKind.Event, 0.6, 0.75, Doing(), PlannedActivity, NeedsDate: true),
        new("I <did>", MemoryKind.Event, 0.5, 0.7, Did(), PastEvent, NeedsDate: true),
    ];

    private static Finding[] One(string key, string content) => [new(key, content)];

    private static Finding[] PreferredName(string raw)
    {
        var name = Phrases.CleanName(raw);
        return name.Length == 0 || Phrases.IsNotAName(name) ? [] : One("preferred_name", $"Wants to be called {Phrases.Capitalise(name)}");
    }

    private static Finding[] Allergies(string list) =>
        Phrases.SplitList(Phrases.CleanObject(list))
            .Select(item => new Finding($"allergy:{Phrases.Slug(item)}", $"Is allergic to {item}"))
            .ToArray();

    private static Finding[] NotEating(string food) => food.Length == 0 || Phrases.IsReaction(food) ? []
        : Phrases.IsMeat(food) ? One("diet", $"Does not eat {food}")
        : One($"avoids:{Phrases.Slug(food)}", $"Does not eat {food}");

    private static Finding[] Drinks(string raw, bool negated)
    {
        var drink = Phrases.CleanObject(raw);
        var topic = Phrases.Topic(drink);
        if (topic is null || drink.Length == 0 || Phrases.IsReaction(drink))
            return [];
        return One(topic, negated ? $"Does not drink {drink}" : $"Drinks {drink}");
    }

    private static Finding[] Switched(Match m)
    {
        var to = Phrases.CleanObject(m.Groups["obj"].Value);
        var topic = Phrases.Topic(to) ?? Phrases.Topic(m.Groups["from"].Value);
        var from = m.Groups["from"].Success ? $" from {Phrases.CleanObject(m.Groups["from"].Value)}" : "";
        if (to.Length == 0)
            return [];
        // "I moved to Lisbon" is a new home, not a preference: only topical switches are read here.
        if (topic is null && m.Groups["verb"].Value.Equals("moved", StringComparison.OrdinalIgnoreCase))
            return [];
        return One(topic ?? $"uses:{Phrases.Slug(to)}", $"Switched{from} to {to}");
    }

    private static Finding[] Prefers(Match m)
    {
        var thing = Phrases.CleanObject(m.Groups["obj"].Value);
        // "I prefer not to say" declines to answer; it states no preference.
        if (thing.Length == 0 || Phrases.IsReaction(thing) || m.Groups["rest"].Value.StartsWith("not ", StringComparison.OrdinalIgnoreCase))
            return [];
        var other = m.Groups["other"].Success ? Phrases.CleanObject(m.Groups["other"].Value) : "";
        var key = Phrases.Topic(thing) ?? Phrases.Topic(other) ?? $"prefers:{Phrases.Slug(thing)}";
        var content = Phrases.ThirdPerson(Phrases.CleanPhrase(m.Groups["rest"].Value));
        return One(key, $"Prefers {content}");
    }

    private static Finding[] Instructions(Match m, Clause clause)
    {
        var mode = m.Groups["mode"].Value.ToLowerInvariant();
        var instruction = Phrases.CleanPhrase(m.Groups["instr"].Value);
        // A bare imperative ("answer in German") is a one-off request unless it is meant to last.
        if (!clause.StandingInstruction && mode is not ("always" or "never") && !(m.Groups["please"].Success && mode.Length > 0))
            return [];
        var key = Phrases.InstructionTopic(instruction) ?? $"instruction:{Phrases.Slug(string.Join(' ', instruction.Split(' ').Take(5)))}";
        var how = mode switch { "always" => "always ", "" => "", _ => "never " };
        return One(key, $"Wants the assistant to {how}{Phrases.ThirdPerson(instruction)}");
    }

    private static Finding[] Likes(Match m, bool liked)
    {
        var thing = Phrases.CleanObject(m.Groups["obj"].Value);
        if (thing.Length == 0 || Phrases.IsReaction(thing))
            return [];
        // "I like to cook" and "I like cooking" are one topic; the content keeps the user's wording.
        var topic = thing.StartsWith("to ", StringComparison.OrdinalIgnoreCase) ? thing[3..] : thing;
        var verb = Phrases.LikeVerb(m.Groups["verb"].Value, liked);
        return One($"likes:{Phrases.Slug(topic)}", $"{verb} {Phrases.ThirdPerson(thing)}");
    }

    private static Finding[] ReadFavourite(Match m)
    {
        var what = Phrases.CleanObject(m.Groups["what"].Value);
        var value = Phrases.CleanObject(m.Groups["value"].Value);
        return what.Length == 0 || value.Length == 0 ? [] : One($"favourite_{Phrases.Slug(what)}", $"Favourite {what} is {value}");
    }

    private static Finding[] Location(string raw)
    {
        var place = Phrases.CleanPlace(raw);
        return place.Length == 0 ? [] : One("location", $"Lives in {place}");
    }

    private static Finding[] Hometown(string raw)
    {
        var place = Phrases.CleanPlace(raw);
        return place.Length == 0 ? [] : One("hometown", $"Is from {place}");
    }

    private static Finding[] Occupation(string raw, bool checkWord)
    {
        var job = Phrases.CleanObject(raw);
        if (job.Length == 0 || (checkWord && !Phrases.IsOccupation(job)))
            return [];
        return One("occupation", $"Works as {Phrases.Article(job)} {job}");
    }

    private static Finding[] Born(Clause clause) => clause.Date switch
    {
        null => [],
        { Precision: DatePrecision.Year } date => One("birth_year", $"Was born in {date.Iso}"),
        var date => One("birthday", $"Was born {date.Phrase}"),
    };

    private static Finding[] Relative(string relation, string count, string name)
    {
        var rel = Phrases.Relation(relation);
        if (rel is "child" or "kid")
            return One("children", $"Has {Phrases.Count(count)} children");
        var who = name.Length > 0 ? $" named {Phrases.Capitalise(name)}" : "";
        return count.Length > 0
            ? One($"family:{rel}", $"Has {Phrases.CountPhrase(count, rel)}{who}")
            : One($"family:{rel}", $"{Phrases.Capitalise(rel)} is named {Phrases.Capitalise(name)}");
    }

    private static Finding[] Pet(string species, string count, string name)
    {
        var animal = Phrases.Singular(Phrases.CleanObject(species).ToLowerInvariant());
        if (animal.Length == 0)
            return [];
        var who = name.Length > 0 ? $" named {Phrases.Capitalise(name)}" : "";
        return One($"pet:{Phrases.Slug(animal)}", $"Has {Phrases.CountPhrase(count, animal)}{who}");
    }

    private static Finding[] Trip(string verb, string place, Clause clause) =>
        One($"trip:{Phrases.Slug(place)}", $"Plans to {verb} to {place} {clause.Date!.Phrase}");

    private static Finding[] SubjectEvent(Match m, Clause clause)
    {
        // "My boss is flying to Rome" is about the boss; "my sister's wedding" is an event the user attends.
        if (Phrases.IsPerson(m.Groups["obj"].Value))
            return [];
        var subject = Phrases.Capitalise(Phrases.ThirdPerson($"{m.Groups["whose"].Value} {m.Groups["obj"].Value}"));
        var verb = m.Groups["verb"].Value == "'s" ? "is" : m.Groups["verb"].Value.ToLowerInvariant();
        return Event(m.Groups["obj"].Value, $"{subject} {verb}", clause);
    }

    private static Finding[] PlannedActivity(Match m, Clause clause)
    {
        // "I'm working on my resume today" is what the user is doing now, not a plan worth remembering.
        if (clause.Date!.Text.Contains("today", StringComparison.OrdinalIgnoreCase))
            return [];
        var verb = m.Groups["verb"].Value.ToLowerInvariant();
        var what = Phrases.CleanObject(m.Groups["obj"].Value);
        return Event($"{verb} {what}", $"Is {verb} {Phrases.ThirdPerson(what)}", clause);
    }

    private static Finding[] PastEvent(Match m, Clause clause)
    {
        var verb = m.Groups["verb"].Value.ToLowerInvariant();
        var what = Phrases.CleanObject(m.Groups["obj"].Value);
        return Event($"{verb} {what}", Phrases.Capitalise(Phrases.ThirdPerson($"{verb} {what}".Trim())), clause);
    }

    private static Finding[] Event(string what, string content, Clause clause)
    {
        var slug = Phrases.Slug(Phrases.CleanObject(what));
        return slug.Length == 0 ? [] : One($"event:{slug}", $"{content} {clause.Date!.Phrase}");
    }

    [GeneratedRegex($@"^(?:please\s+)?(?:never|do not|stop)\s+call(?:ing)?\s+me\s+(?<name>{AnyName})", Options)]
    private static partial Regex AvoidName();

    [GeneratedRegex($@"^(?:(?:you can|you may|please|just|always)\s+)*call\s+me\s+(?<name>{AnyName}(?:\s+{AnyName})?)$", Options)]
    private static partial Regex CallMe();

    [GeneratedRegex($@"^I\s+(?:usually\s+)?(?:go by|prefer to be called|prefer being called)\s+(?<name>{AnyName})", Options)]
    private static partial Regex GoBy();

    [GeneratedRegex($@"^my\s+(?:first\s+|full\s+)?name(?:\s+is|'s)\s+(?<name>{AnyName}(?:\s+{AnyName}){{0,2}})", Options)]
    private static partial Regex MyName();

    [GeneratedRegex($@"^I am\s+(?<name>{CapitalName})(?:,.*)?$", Options)]
    private static partial Regex IAmName();

    [GeneratedRegex($@"^I am\s+(?:very\s+|severely\s+|mildly\s+|also\s+|deathly\s+|super\s+|really\s+)?allergic\s+to\s+(?<list>.+)", Options)]
    private static partial Regex AllergicTo();

    [GeneratedRegex($@"^I\s+have\s+(?:an?\s+)?(?:severe\s+|mild\s+|bad\s+|serious\s+|slight\s+)?(?:(?<list>[\w -]+?)\s+allergy|allergy\s+to\s+(?<list>.+)|allergies\s+to\s+(?<list>.+))", Options)]
    private static partial Regex AllergyNoun();

    [GeneratedRegex(@"^I am\s+(?:very\s+|also\s+|slightly\s+)?(?<what>lactose|gluten|fructose|histamine)[\s-]+intolerant", Options)]
    private static partial Regex Intolerant();

    [GeneratedRegex(@"^I\s+(?:have|was diagnosed with|live with|suffer from)\s+(?<what>type [12] diabetes|diabetes|asthma|adhd|celiac disease|coeliac disease|epilepsy|migraines|high blood pressure|ibs|eczema|arthritis|crohn's disease|dyslexia|autism)\b", Options)]
    private static partial Regex Condition();

    [GeneratedRegex(@"^(?:I am|I have been|we are|I went|I have gone|I became|I turned)\s+(?:now\s+|also\s+|strictly\s+|fully\s+|mostly\s+|a\s+|an\s+|full\s+|mainly\s+|basically\s+)*(?<diet>vegetarian|vegan|pescatarian|pescetarian|keto|kosher|halal|paleo|flexitarian|plant-based|gluten-free)\b", Options)]
    private static partial Regex Diet();

    [GeneratedRegex(@"^I\s+(?:now\s+|only\s+|do\s+)*eat\s+(?<what>fish|seafood)(?:\s+(?:now|again|these days))?$", Options)]
    private static partial Regex EatsFish();

    [GeneratedRegex(@"^(?:I|we)\s+(?:do not|no longer|never|stopped|quit|gave up|cannot|avoid)\s+(?:eat|eating)\s+(?<obj>.+)", Options)]
    private static partial Regex DoesNotEat();

    [GeneratedRegex(@"^(?:I|we)\s+(?:do not|no longer|never|stopped|quit|gave up)\s+(?:drink|drinking)\s+(?<obj>.+)", Options)]
    private static partial Regex DoesNotDrink();

    [GeneratedRegex($@"^(?:I|we)\s+{Adverbs}(?:drink|have)\s+(?:only\s+)?(?<obj>.+)", Options)]
    private static partial Regex Drink();

    [GeneratedRegex($@"^(?:I|we)\s+(?:have\s+)?{Adverbs}(?<verb>switched|changed|moved|converted|went)(?:\s+over)?(?:\s+from\s+(?<from>.+?))?\s+to\s+(?<obj>.+)", Options)]
    private static partial Regex SwitchedTo();

    [GeneratedRegex($@"^(?:I|we)\s+{Adverbs}prefer\s+(?<rest>(?<obj>.+?)(?:\s+(?:over|to|rather than|instead of)\s+(?<other>.+))?)$", Options)]
    private static partial Regex Prefer();

    [GeneratedRegex(@"^(?<please>please\s+)?(?:(?<mode>always|never|do not)\s+)?(?<instr>(?:answer|reply|respond|write|use|keep|be|give|talk|speak|include|avoid|add|format|show|explain|remind|address|stop|start|mention|send|provide|list|make|put|check|ask|double-check|cite|translate)\b.*)$", Options)]
    private static partial Regex Instruction();

    [GeneratedRegex($@"^(?:I\s+)?{Adverbs}(?<verb>hate|dislike|detest|loathe|despise|cannot stand|can not stand|do not (?:really |much |particularly |actually )?(?:like|enjoy|love|care for)|never (?:really )?liked|am not (?:a |really a |much of a )?(?:big |huge )?fan of|am not (?:really |that |very |too )?(?:into|big on|keen on|fond of))\s+(?<obj>.+)$", Options)]
    private static partial Regex Dislike();

    [GeneratedRegex($@"^(?:I\s+)?{Adverbs}(?<verb>love|like|enjoy|adore|(?:am )?(?:a |such a )?(?:big |huge |massive |great )?fan of|am (?:really |totally |very |so |super )?(?:into|fond of|keen on|big on|obsessed with|passionate about))\s+(?<obj>.+)$", Options)]
    private static partial Regex Like();

    [GeneratedRegex(@"^(?:(?:I|we)\s+)?(?:currently\s+|now\s+|still\s+|actually\s+)?(?:live|reside|am living|are living|living|am based|are based|based|am now based|am settled|are settled)(?:\s+with\s+[\w\s']+?)?\s+in\s+(?<place>.+)", Options)]
    private static partial Regex LivesIn();

    [GeneratedRegex(@"^(?:I|we)\s+(?:have\s+)?(?:just\s+|recently\s+|finally\s+|also\s+)?(?:moved|relocated)\s+(?:back\s+)?(?:from\s+.+?\s+)?to\s+(?<place>.+)", Options)]
    private static partial Regex MovedTo();

    [GeneratedRegex(@"^I am\s+(?:originally\s+)?from\s+(?<place>.+)", Options)]
    private static partial Regex ComesFrom();

    [GeneratedRegex(@"^I\s+(?:grew up|was raised|was born and raised)\s+in\s+(?<place>.+)", Options)]
    private static partial Regex GrewUpIn();

    [GeneratedRegex(@"^I\s+(?:currently\s+|now\s+)?work\s+as\s+(?:an?\s+)?(?<job>.+)", Options)]
    private static partial Regex WorksAs();

    [GeneratedRegex(@"^I am\s+(?:an?\s+)(?<job>[\w-]+(?:\s+[\w-]+){0,3}?)(?:\s+(?:at|for|in|with|by)\s+.+)?$", Options)]
    private static partial Regex IAmA();

    [GeneratedRegex(@"^I\s+(?:currently\s+|now\s+|still\s+)?work\s+(?<prep>at|for)\s+(?<org>.+)", Options)]
    private static partial Regex WorksAt();

    [GeneratedRegex(@"^(?:my|our)\s+(?:all-time\s+)?(?:favou?rite|fave)\s+(?<what>[\w\s-]+?)\s+(?:is|are|has to be|would be)\s+(?<value>.+)", Options)]
    private static partial Regex Favourite();

    [GeneratedRegex(@"^I\s+(?:also\s+|can\s+)?speak\s+(?!to\b|with\b|up\b)(?<langs>.+)", Lookaround, ReadingLimits.MatchTimeoutMs)]
    private static partial Regex Speaks();

    [GeneratedRegex(@"^I am\s+(?<n>\d{1,3})(?:\s*(?:years?|yrs?)(?:\s*old)?|\s*y/?o)?$", Options)]
    private static partial Regex Age();

    [GeneratedRegex(@"^(?:I am|I got|we are|we got)\s+(?:happily\s+|recently\s+|just\s+|now\s+)?(?<s>married|single|divorced|engaged|widowed|separated)\b", Options)]
    private static partial Regex Marital();

    [GeneratedRegex(@"^my\s+birthday\s*(?:is|'s)?$", Options)]
    private static partial Regex Birthday();

    [GeneratedRegex(@"^I\s+was\s+born$", Options)]
    private static partial Regex Born();

    [GeneratedRegex($@"^(?:my|our)\s+(?<rel>{Relations})(?:'s\s+name\s+is|\s+is\s+called|\s+is\s+named|\s+goes\s+by|'s\s+called)\s+(?<name>{AnyName})", Options)]
    private static partial Regex RelativeIsNamed();

    [GeneratedRegex($@"^(?:my|our)\s+(?<rel>{Relations}),?\s+(?<name>{CapitalName})\b", Options)]
    private static partial Regex RelativeName();

    [GeneratedRegex($@"^(?:I|we)\s+{Have}\s+(?<n>{Number})\s+(?:(?:little|young|small|grown|grown-up)\s+)?(?:kids|children|kid|child)\b", Options)]
    private static partial Regex HasChildren();

    [GeneratedRegex($@"^(?:I|we)\s+(?:also\s+)?{Have}\s+(?<n>{Number})\s+(?:(?:little|small|old|young|rescue|new)\s+)?(?<species>(?:{Species})(?:s|es)?)(?:\s+(?:named|called)\s+(?<name>{AnyName}))?(?:\s|$)", Options)]
    private static partial Regex HasPet();

    [GeneratedRegex($@"^(?:I|we)\s+(?:also\s+)?{Have}\s+(?<n>{Number})\s+(?:(?:little|older|younger|big|baby|step|twin)\s*)?(?<rel>(?:{Relations})s?)(?:\s+(?:named|called)\s+(?<name>{AnyName}))?(?:\s|$)", Options)]
    private static partial Regex HasRelative();

    [GeneratedRegex($@"^(?:I|we)\s+(?:also\s+)?{Have}\s+(?:an?)\s+(?<what>[\w -]+?)\s+(?:named|called)\s+(?<name>{AnyName})", Options)]
    private static partial Regex HasNamed();

    [GeneratedRegex($@"^(?:my|our)\s+(?<species>{Species})(?:(?:'s\s+name\s+is|\s+is\s+called|\s+is\s+named|\s+goes\s+by|'s\s+called)\s+(?<name>{AnyName})|,?\s+(?<name>{CapitalName})\b)", Options)]
    private static partial Regex PetIsNamed();

    [GeneratedRegex($@"^(?:my|our)\s+(?:flight|train|bus|ferry|trip)\s+(?:to|for)\s+(?<place>{Place})", Options)]
    private static partial Regex FlightTo();

    [GeneratedRegex($@"^(?:I|we)\s+(?:am|are|will be|will)\s+(?:also\s+)?(?<verb>flying|travell?ing|driving|heading|going|off|fly|travel|drive|go|taking the train|moving)\s+(?:back\s+)?to\s+(?<place>{Place})", Options)]
    private static partial Regex TravelTo();

    [GeneratedRegex(@"^(?:I|we)\s+(?:am|are|will be)\s+going\s+to\s+(?<what>(?:the|a|an|my|our)\s+(?<obj>.+))", Options)]
    private static partial Regex GoingToThe();

    [GeneratedRegex(@"^(?:I|we)\s+(?:am|are)\s+(?:going to|gonna|planning to|about to|scheduled to)\s+(?<vp>\w+.*)$", Options)]
    private static partial Regex GoingToDo();

    [GeneratedRegex($@"^(?:I|we)\s+{Have}\s+(?<what>(?:a|an|my|our|the|another)\s+(?<obj>.+))", Options)]
    private static partial Regex HasAppointment();

    [GeneratedRegex(@"^(?<whose>my|our)\s+(?<obj>.+?)(?:\s+(?<verb>is|are|starts|begins|leaves|takes place|was|will be)\b|(?<verb>'s)$)", Options)]
    private static partial Regex EventIs();

    [GeneratedRegex(@"^(?:I|we)\s+(?:am|are)\s+(?!feeling|thinking|wondering|hoping|trying|looking|doing|going)(?<verb>\w+ing)\s+(?<obj>.+)", Lookaround, ReadingLimits.MatchTimeoutMs)]
    private static partial Regex Doing();

    [GeneratedRegex(@"^(?:I|we)\s+(?:just\s+|finally\s+|also\s+|already\s+)?(?<verb>\w+ed|ran|went|got|had|saw|took|made|met|won|lost|began|flew|drove|bought|sold|wrote|left|became|did|gave|found|came|swam|rode)\b\s*(?<obj>.*)$", Options)]
    private static partial Regex Did();
}

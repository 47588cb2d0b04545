namespace MemoryService.Bench;

/// <summary>One memory of a synthetic profile, as the app would have written it at <see cref="ObservedAt"/>.</summary>
public sealed record ProfileMemory(string Content, string Kind, string? Key, double Importance, double Confidence, DateTimeOffset ObservedAt);

/// <summary>A question about what is currently true, the words its answer must contain, and the key of the memories
/// stating it (null for a routine, which is a run of keyless events).</summary>
public sealed record GoldQuestion(string Question, string Answer, string Group, string? Key);

/// <summary>A synthetic user's year of memories and the gold list of what is true at its end.</summary>
public sealed record Profile(string Name, IReadOnlyList<ProfileMemory> Memories, IReadOnlyList<GoldQuestion> Gold);

/// <summary>
/// Generator of long-running synthetic profiles (deterministic for a seed): stable facts restated over 12 months in
/// slightly different words, preferences that change (only the latest value is gold), repeated routines (events on
/// many days) and one-off events. "duplicate-heavy" restates each fact about 30 times (about 2,000 memories);
/// "varied" restates little and has many more one-off events (the same size, few duplicates).
/// </summary>
public static class LifecycleProfiles
{
    // key, question, gold answer, wordings (the first is the usual one; later ones are rarer rewordings)
    private static readonly (string Key, string Question, string Answer, string[] Wordings)[] Facts =
    [
        ("location", "Where does the user live?", "Leeds", ["Lives in Leeds", "lives in Leeds.", "Still lives in Leeds", "Lives in Leeds these days", "Is living in Leeds"]),
        ("occupation", "What is the user's job?", "nurse", ["Works as a nurse", "works as a nurse.", "Still works as a nurse", "Works as a nurse on a ward", "Is a nurse"]),
        ("employer", "Which hospital does the user work at?", "St James", ["Works at St James Hospital", "works at St James Hospital.", "Works at St James Hospital in Leeds", "Still works at St James Hospital", "Is employed by St James Hospital"]),
        ("pet:dog", "Does the user have a pet?", "Biscuit", ["Has a dog named Biscuit", "has a dog named Biscuit.", "Has a dog called Biscuit", "Has a beagle named Biscuit", "Owns a dog named Biscuit"]),
        ("allergy:peanuts", "Does the user have any food allergies?", "peanut", ["Is allergic to peanuts", "is allergic to peanuts.", "Is severely allergic to peanuts", "Is still allergic to peanuts", "Has a peanut allergy"]),
        ("languages", "Which languages does the user speak?", "Portuguese", ["Speaks English and Portuguese", "speaks English and Portuguese.", "Speaks English and some Portuguese", "Speaks fluent English and Portuguese", "Speaks Portuguese and English"]),
        ("family:sister", "Does the user have a sister?", "Ana", ["Has a sister named Ana", "has a sister named Ana.", "Has an older sister named Ana", "Has a sister called Ana", "Their sister is Ana"]),
        ("hometown", "Where did the user grow up?", "Porto", ["Grew up in Porto", "grew up in Porto.", "Grew up in Porto, Portugal", "Grew up in the city of Porto", "Is originally from Porto"]),
        ("car", "What car does the user drive?", "Golf", ["Drives a Volkswagen Golf", "drives a Volkswagen Golf.", "Drives an old Volkswagen Golf", "Drives a grey Volkswagen Golf", "Has a Volkswagen Golf"]),
        ("diet", "Does the user eat meat?", "vegetarian", ["Is vegetarian", "is vegetarian.", "Is a vegetarian", "Is still vegetarian", "Has been vegetarian for years"]),
        ("birthday", "When is the user's birthday?", "14 March", ["Birthday is on 14 March", "birthday is on 14 March.", "Has a birthday on 14 March", "Their birthday is on 14 March", "Celebrates a birthday on 14 March"]),
        ("children", "Does the user have children?", "two", ["Has two children", "has two children.", "Has two young children", "Has two children at primary school", "Has two kids"]),
        ("family:partner", "Who is the user's partner?", "Tom", ["Has a partner named Tom", "has a partner named Tom.", "Has a partner called Tom", "Has a long-term partner named Tom", "Lives with their partner Tom"]),
        ("condition:asthma", "Does the user have any health conditions?", "asthma", ["Has asthma", "has asthma.", "Has mild asthma", "Has had asthma since childhood", "Suffers from asthma"]),
        ("instrument", "What instrument does the user play?", "guitar", ["Plays the guitar", "plays the guitar.", "Plays the acoustic guitar", "Plays the guitar in a band", "Plays guitar"]),
        ("favourite_team", "Which football team does the user support?", "Leeds United", ["Supports Leeds United", "supports Leeds United.", "Still supports Leeds United", "Supports Leeds United every season", "Is a Leeds United fan"]),
        ("education", "What did the user study?", "nursing", ["Studied nursing at the University of Leeds", "studied nursing at the University of Leeds.", "Studied adult nursing at the University of Leeds", "Studied nursing at the University of Leeds for three years", "Has a nursing degree from Leeds"]),
        ("commute", "How does the user get to work?", "bus", ["Takes the bus to work", "takes the bus to work.", "Usually takes the bus to work", "Takes the number 4 bus to work", "Commutes to work by bus"]),
        ("likes:gardening", "What does the user do at the weekend?", "gardening", ["Enjoys gardening", "enjoys gardening.", "Really enjoys gardening", "Enjoys gardening at the weekend", "Loves gardening"]),
        ("shifts", "When does the user work?", "night shifts", ["Works night shifts", "works night shifts.", "Often works night shifts", "Works night shifts at the hospital", "Works nights"]),
        ("home", "What kind of home does the user live in?", "terraced house", ["Lives in a terraced house", "lives in a terraced house.", "Lives in a small terraced house", "Lives in a terraced house with a garden", "Rents a terraced house"]),
        ("phone", "What phone does the user have?", "Pixel", ["Uses a Google Pixel phone", "uses a Google Pixel phone.", "Uses a Google Pixel phone for everything", "Uses an old Google Pixel phone", "Has a Pixel"]),
        ("likes:crime_novels", "What does the user like to read?", "crime novels", ["Likes reading crime novels", "likes reading crime novels.", "Really likes reading crime novels", "Likes reading crime novels before bed", "Reads lots of crime novels"]),
        ("fear:spiders", "What is the user afraid of?", "spiders", ["Is afraid of spiders", "is afraid of spiders.", "Is really afraid of spiders", "Is afraid of big spiders", "Has a fear of spiders"]),
        ("marital_status", "Is the user married?", "engaged", ["Is engaged to Tom", "is engaged to Tom.", "Is happily engaged to Tom", "Is engaged to Tom since last year", "Got engaged to Tom"]),
        ("gym", "Which gym does the user go to?", "PureGym", ["Is a member of PureGym", "is a member of PureGym.", "Is still a member of PureGym", "Is a member of PureGym in Leeds", "Has a PureGym membership"]),
        ("family:mother", "Where does the user's mother live?", "Lisbon", ["Mother lives in Lisbon", "mother lives in Lisbon.", "Mother still lives in Lisbon", "Mother lives in Lisbon, near the river", "Their mum is in Lisbon"]),
        ("laptop", "What computer does the user use?", "MacBook", ["Uses a MacBook Air", "uses a MacBook Air.", "Uses an old MacBook Air", "Uses a MacBook Air at home", "Has a MacBook"]),
        ("volunteering", "Does the user volunteer anywhere?", "food bank", ["Volunteers at the local food bank", "volunteers at the local food bank.", "Volunteers at the local food bank on Saturdays", "Still volunteers at the local food bank", "Helps out at a food bank"]),
        ("birth_year", "What year was the user born?", "1991", ["Was born in 1991", "was born in 1991.", "Was born in Porto in 1991", "Was born in the spring of 1991", "Born in 1991"]),
    ];

    // key, question, values in the order they held (the last is gold): (content stem, gold answer)
    private static readonly (string Key, string Question, (string Content, string Answer)[] Values)[] Preferences =
    [
        ("drink_preference", "What does the user like to drink?", [("Prefers black tea", "black tea"), ("Prefers coffee", "coffee"), ("Prefers green tea", "green tea")]),
        ("response_length", "How long should answers be?", [("Prefers short answers", "short answers"), ("Prefers detailed answers", "detailed answers")]),
        ("editor_preference", "Which code editor does the user use?", [("Prefers VS Code for coding", "VS Code"), ("Prefers Neovim for coding", "Neovim")]),
        ("favourite_music", "What music does the user like?", [("Favourite music is jazz", "jazz"), ("Favourite music is bossa nova", "bossa nova")]),
        ("seat_preference", "Which seat does the user want on flights?", [("Prefers aisle seats on flights", "aisle"), ("Prefers window seats on flights", "window")]),
        ("milk_preference", "What milk does the user take?", [("Takes oat milk in coffee", "oat milk"), ("Takes almond milk in coffee", "almond milk")]),
        ("workout_time", "When does the user like to work out?", [("Prefers to work out in the evening", "evening"), ("Prefers to work out in the morning", "morning")]),
        ("holiday_preference", "What holidays does the user prefer?", [("Prefers beach holidays", "beach"), ("Prefers city breaks", "city breaks")]),
        ("units_preference", "Which units does the user use?", [("Prefers metric units", "metric")]),
        ("tv_preference", "What does the user like to watch on TV?", [("Prefers watching documentaries", "documentaries"), ("Prefers watching sitcoms", "sitcoms")]),
    ];

    private static readonly string[] PreferenceSuffixes = ["", ".", " these days", " now", " most of the time"];

    // wordings of a routine (events on many days), its question and answer, and on how many days a year it happens
    private static readonly (string[] Wordings, string Question, string Answer, int Days)[] Routines =
    [
        (["Went for a morning run", "went for a morning run.", "Went for a morning run in the park"], "Does the user exercise regularly?", "morning run", 60),
        (["Had a swimming lesson", "had a swimming lesson.", "Had a swimming lesson at the leisure centre"], "Does the user take any lessons?", "swimming lesson", 40),
        (["Called mum on Sunday", "called mum on Sunday.", "Called mum on Sunday evening"], "How often does the user talk to their mother?", "Called mum", 40),
        (["Did the weekly food shop at Aldi", "did the weekly food shop at Aldi.", "Did the weekly food shop at Aldi after work"], "Where does the user do their shopping?", "Aldi", 40),
    ];

    private static readonly string[] Activities =
        ["Went to the cinema", "Had dinner", "Went to a concert", "Visited a museum", "Went bowling", "Had lunch", "Went to a pub quiz",
         "Went to a birthday party", "Watched a play", "Went to a yoga class", "Had a picnic", "Went shopping", "Had brunch", "Went to a wedding"];
    private static readonly string[] Companions = ["with Tom", "with Ana", "with colleagues", "with an old school friend", "alone", "with the neighbours", "with Tom's parents", "with the book club"];
    private static readonly string[] Places = ["in Harrogate", "in York", "in the city centre", "in Headingley", "in Manchester", "in Roundhay", "near the station", "in Otley", "in Ilkley", "in Wakefield"];
    private static readonly string[] Errands =
        ["Bought a new kettle", "Fixed the bike puncture", "Renewed the car insurance", "Had a dentist appointment", "Booked a boiler service",
         "Returned a parcel", "Paid the council tax", "Got a haircut", "Repainted the fence", "Replaced the kitchen tap", "Had the car serviced",
         "Cleared out the loft", "Bought winter tyres", "Had an eye test", "Sorted the recycling", "Posted a birthday card"];

    public static Profile Generate(string name, DateTimeOffset end, int seed = 16)
    {
        var (restatements, preferenceRestatements, oneOffs) = name switch
        {
            "duplicate-heavy" => (30, 18, 560),
            "varied" => (2, 2, 1720),
            _ => throw new ArgumentException($"unknown profile '{name}' (duplicate-heavy or varied)"),
        };
        var random = new Random(seed);
        var start = end.AddDays(-365);
        DateTimeOffset At(double fromDay, double toDay) => start.AddDays(fromDay + random.NextDouble() * (toDay - fromDay));
        var memories = new List<ProfileMemory>();
        var gold = new List<GoldQuestion>();

        // stable facts: the usual wording most of the time, rewordings now and then
        foreach (var (key, question, answer, wordings) in Facts)
        {
            for (var i = 0; i < restatements; i++)
            {
                var r = random.NextDouble();
                var wording = r < 0.4 ? wordings[0] : r < 0.6 ? wordings[1] : r < 0.75 ? wordings[2] : r < 0.9 ? wordings[3] : wordings[4];
                memories.Add(new ProfileMemory(wording, "fact", key, 0.5 + 0.4 * random.NextDouble(), 0.8 + 0.2 * random.NextDouble(), At(0, 365)));
            }
            gold.Add(new GoldQuestion(question, answer, "fact", key));
        }

        // preferences that change: each value holds for its share of the year and is restated in it
        foreach (var (key, question, values) in Preferences)
        {
            var span = 365.0 / values.Length;
            for (var v = 0; v < values.Length; v++)
                for (var i = 0; i < preferenceRestatements; i++)
                    memories.Add(new ProfileMemory(values[v].Content + PreferenceSuffixes[random.Next(PreferenceSuffixes.Length)], "preference", key,
                        0.5 + 0.15 * random.NextDouble(), 0.8 + 0.2 * random.NextDouble(), At(v * span, (v + 1) * span)));
            gold.Add(new GoldQuestion(question, values[^1].Answer, "preference", key));
        }

        // routines: the same activity on many days of the year
        foreach (var (wordings, question, answer, days) in Routines)
        {
            for (var i = 0; i < days; i++)
                memories.Add(new ProfileMemory(wordings[random.Next(wordings.Length)], "event", null, 0.2, 0.5, At(i * 365.0 / days, (i + 1) * 365.0 / days)));
            gold.Add(new GoldQuestion(question, answer, "routine", null));
        }

        // one-off events: unique, unimportant, spread over the year
        var seen = new HashSet<string>();
        while (seen.Count < oneOffs)
        {
            var text = random.Next(3) == 0
                ? $"{Errands[random.Next(Errands.Length)]} on day {seen.Count + 1} of the year"
                : $"{Activities[random.Next(Activities.Length)]} {Companions[random.Next(Companions.Length)]} {Places[random.Next(Places.Length)]}";
            if (!seen.Add(text)) continue;
            memories.Add(new ProfileMemory(text, "event", null, 0.1 + 0.15 * random.NextDouble(), 0.4 + 0.15 * random.NextDouble(), At(0, 365)));
        }
        return new Profile(name, memories.OrderBy(m => m.ObservedAt).ToList(), gold);
    }
}

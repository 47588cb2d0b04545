namespace MemoryService.Bench;

/// <summary>
/// Deterministic, varied short memories and queries for the load benchmark, built from word lists:
/// preferences, facts and events about food, travel, work, family, health and hobbies.
/// </summary>
public static class LoadWorkload
{
    private static readonly string[] Names = ["Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
        "Kemal", "Lena", "Marco", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Yusuf", "Zoe"];
    private static readonly string[] Foods = ["sushi", "ramen", "pizza", "tacos", "pho", "falafel", "curry", "paella", "dumplings", "risotto",
        "oatmeal", "pancakes", "salmon", "tofu", "lentil soup", "goat cheese", "dark chocolate", "green tea", "espresso", "mango"];
    private static readonly string[] Cities = ["Lisbon", "Berlin", "Kyoto", "Toronto", "Nairobi", "Oslo", "Seville", "Melbourne", "Chicago",
        "Hanoi", "Istanbul", "Prague", "Bogota", "Dublin", "Seoul", "Marseille", "Vienna", "Austin", "Edinburgh", "Cape Town"];
    private static readonly string[] Activities = ["hiking", "climbing", "swimming", "cycling", "running", "yoga", "chess", "painting",
        "baking", "gardening", "surfing", "skiing", "birdwatching", "pottery", "kayaking", "photography", "woodworking", "salsa dancing"];
    private static readonly string[] Jobs = ["nurse", "data engineer", "architect", "teacher", "pharmacist", "product designer", "lawyer",
        "chef", "electrician", "journalist", "accountant", "veterinarian", "pilot", "researcher", "translator"];
    private static readonly string[] Pets = ["cat", "dog", "parrot", "rabbit", "tortoise", "hamster", "beagle", "golden retriever", "tabby cat"];
    private static readonly string[] Days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    private static readonly string[] Months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December"];
    private static readonly string[] Languages = ["Spanish", "German", "Japanese", "Portuguese", "Swahili", "Korean", "Italian", "Arabic"];
    private static readonly string[] Styles = ["short bullet points", "detailed explanations", "a friendly tone", "formal language",
        "code examples first", "metric units", "no emojis", "answers in Spanish"];
    private static readonly string[] Books = ["Dune", "Middlemarch", "The Overstory", "Project Hail Mary", "Beloved", "The Name of the Rose",
        "Piranesi", "Sapiens", "Circe", "The Remains of the Day"];
    private static readonly string[] Reasons = ["it helps with stress", "a doctor recommended it", "it reminds them of home",
        "their partner enjoys it too", "it fits their budget", "they have more time this year", "a friend got them into it"];
    private static readonly string[] Tags = ["food", "travel", "work", "family", "health", "hobby", "schedule", "style"];

    public sealed record Item(string Content, string Kind, string[] Tags, double Importance, DateTimeOffset ObservedAt);

    /// <summary>Observation times are spread over the year before this fixed instant, so runs are reproducible.</summary>
    public static readonly DateTimeOffset Epoch = new(2025, 6, 1, 0, 0, 0, TimeSpan.Zero);

    public static string UserId(int index) => $"load-{index:D6}";

    public static Item Memory(Random r)
    {
        string T(string[] words) => words[r.Next(words.Length)];
        var roll = r.Next(100);
        (string content, string kind, string tag) = roll switch
        {
            < 8 => ($"Prefers {T(Foods)} over {T(Foods)} for dinner", "preference", "food"),
            < 15 => ($"Likes {T(Activities)} on {T(Days)} mornings", "preference", "hobby"),
            < 21 => ($"Wants replies with {T(Styles)}", "preference", "style"),
            < 27 => ($"Dislikes {T(Foods)} and avoids it when eating out in {T(Cities)}", "preference", "food"),
            < 35 => ($"Would rather travel to {T(Cities)} than {T(Cities)} in {T(Months)}", "preference", "travel"),
            < 43 => ($"Works as a {T(Jobs)} in {T(Cities)}", "fact", "work"),
            < 50 => ($"Has a {T(Pets)} named {T(Names)}", "fact", "family"),
            < 56 => ($"Is allergic to {T(Foods)}", "fact", "health"),
            < 62 => ($"Speaks {T(Languages)} and is learning {T(Languages)}", "fact", "hobby"),
            < 68 => ($"Sister {T(Names)} lives in {T(Cities)} and works as a {T(Jobs)}", "fact", "family"),
            < 74 => ($"Goes {T(Activities)} every {T(Days)} after work", "fact", "schedule"),
            < 81 => ($"Went {T(Activities)} with {T(Names)} near {T(Cities)} last {T(Months)}", "event", "travel"),
            < 87 => ($"Flew to {T(Cities)} on {T(Months)} {r.Next(1, 29)} for a conference", "event", "work"),
            < 93 => ($"Finished reading {T(Books)} and recommended it to {T(Names)}", "event", "hobby"),
            _ => ($"Cooked {T(Foods)} for {T(Names)}'s birthday dinner", "event", "food"),
        };
        if (r.Next(3) == 0) content += $" because {T(Reasons)}";
        var tags = r.Next(4) == 0 ? new[] { tag, T(Tags) }.Distinct().ToArray() : [tag];
        return new Item(content, kind, tags, Math.Round(0.1 + r.NextDouble() * 0.8, 2), Epoch.AddMinutes(-r.Next(365 * 24 * 60)));
    }

    private static readonly string[] Shared = ["tea", "coffee", "hiking", "jazz", "pizza", "running", "books", "cats", "dogs", "chess",
        "movies", "cooking", "music", "travel", "yoga"];

    /// <summary>What real users do: repeat themselves. Every query matches nearly every memory of the user.</summary>
    public static Item SharedMemory(Random r, int i) =>
        new($"Note {i}: likes {Shared[r.Next(Shared.Length)]} and {Shared[r.Next(Shared.Length)]} on day {i}", "fact", ["note"],
            Math.Round(0.1 + r.NextDouble() * 0.8, 2), Epoch.AddMinutes(-r.Next(365 * 24 * 60)));

    public static string SharedQuery(Random r) => $"likes {Shared[r.Next(Shared.Length)]} and {Shared[r.Next(Shared.Length)]}";

    public static string Query(Random r)
    {
        string T(string[] words) => words[r.Next(words.Length)];
        return r.Next(12) switch
        {
            0 => $"What food does the user like, {T(Foods)} or {T(Foods)}?",
            1 => "Where does the user work and what is their job?",
            2 => $"Has the user been to {T(Cities)}?",
            3 => $"Does the user enjoy {T(Activities)}?",
            4 => "Any food allergies?",
            5 => $"What is the name of the user's {T(Pets)}?",
            6 => "How should answers be formatted?",
            7 => $"Which languages does the user speak? {T(Languages)}?",
            8 => $"What did the user do in {T(Months)}?",
            9 => $"Book recommendations like {T(Books)}",
            10 => $"Plans for {T(Days)} evening",
            _ => $"family members living in {T(Cities)}",
        };
    }
}

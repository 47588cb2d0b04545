using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MemoryService.Tests.Infrastructure;
using OpenQA.Selenium;

namespace MemoryService.Tests.Explorer;

/// <summary>
/// The explorer page in Debian's headless chromium against the live service: every case drives the page the way a
/// person would (typing, clicking) and checks what it shows against what the API says.
/// </summary>
public sealed class ExplorerBrowserTests(ExplorerFixture fx) : IClassFixture<ExplorerFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    private IWebDriver Browser => fx.Browser;

    [Fact]
    public async Task SignsInWithTheKeyAndFindsAUser()
    {
        SignIn();
        var rows = WaitAll("table.users tbody tr");
        Assert.Contains(rows, r => r.GetAttribute("data-user") == ExplorerFixture.User);
        var ada = Wait($"tr[data-user='{ExplorerFixture.User}']");
        var counts = (await ApiFactory.ReadAsync<JsonElement>(await fx.Api.GetAsync($"/v1/users?q={ExplorerFixture.User}"))).GetProperty("items")[0];
        Assert.True(counts.GetProperty("memory_count").GetInt32() > counts.GetProperty("current_memory_count").GetInt32(), "the seed has a superseded memory");
        Assert.Equal(counts.GetProperty("current_memory_count").ToString(), ada.FindElements(By.CssSelector("td"))[0].Text);
        Assert.Equal(counts.GetProperty("memory_count").ToString(), ada.FindElements(By.CssSelector("td"))[1].Text);

        var search = Wait("form[role=search] input[type=search]");
        search.SendKeys("grace" + Keys.Enter);
        Until(() => Browser.FindElements(By.CssSelector("table.users tbody tr")).Select(r => r.GetAttribute("data-user")).Order()
            .SequenceEqual(["Grace-Brewster", "grace-hopper"]), "the search for 'grace' did not list exactly the two grace users");
        fx.Screenshot("explorer-users");

        // The key is in this tab's session storage only: not in the URL, not in a cookie.
        var js = (IJavaScriptExecutor)Browser;
        Assert.Equal(fx.Key, js.ExecuteScript("return sessionStorage.getItem('memoryservice.explorer.key')"));
        Assert.Equal("", js.ExecuteScript("return document.cookie"));
        Assert.DoesNotContain(fx.Key, Browser.Url);

        // Keyboard: the user link is reachable and opens with Enter.
        Wait("tr[data-user='grace-hopper'] a").SendKeys(Keys.Enter);
        Until(() => Browser.FindElement(By.Id("view-title")).Text == "User grace-hopper", "Enter on the user link did not open the user");
    }

    [Fact]
    public void OpensTheHistoryOfASupersededMemory()
    {
        SignIn($"#/users/{ExplorerFixture.User}");
        WaitAll("article.memory");
        Assert.Empty(Browser.FindElements(By.CssSelector($"article[data-id='{fx.Vegetarian}']"))); // current only by default

        Wait("label[for^=superseded]").Click();
        var old = Wait($"article[data-id='{fx.Vegetarian}']");
        Assert.Contains("superseded", old.GetAttribute("class"));
        old.FindElement(By.CssSelector("button[data-action=history]")).Click();

        var superseded = Wait($"article[data-id='{fx.Vegetarian}'] .timeline li[data-event=superseded]");
        Assert.Contains($"Superseded by memory {fx.Pescatarian}", superseded.Text);
        var events = old.FindElements(By.CssSelector(".timeline li")).Select(e => e.GetAttribute("data-event")).ToList();
        Assert.Equal(["created", "superseded"], events);
        Assert.Contains("Preferences", Wait("#group-preference").Text);
        Js("arguments[0].scrollIntoView({block: 'center'})", old);
        fx.Screenshot("explorer-user");

        // Phone width: the same view fits without sideways scrolling.
        var size = Browser.Manage().Window.Size;
        try
        {
            Browser.Manage().Window.Size = new System.Drawing.Size(390, 844);
            Until(() => Convert.ToInt64(Js("return document.documentElement.scrollWidth")) <= Convert.ToInt64(Js("return document.documentElement.clientWidth")),
                "at 390 px the user view scrolls sideways");
            fx.Screenshot("explorer-user-phone");
        }
        finally { Browser.Manage().Window.Size = size; }
    }

    [Fact]
    public async Task EditingWithAStaleETagShowsThe412AndKeepsTheOtherChange()
    {
        var id = await fx.CreateAsync(ExplorerFixture.User, new { content = "Reads Portuguese poetry", kind = "fact", importance = 0.3 });
        SignIn($"#/users/{ExplorerFixture.User}");
        var card = Wait($"article[data-id='{id}']");
        card.FindElement(By.CssSelector("button[data-action=edit]")).Click();
        var content = Wait($"article[data-id='{id}'] textarea[name=content]");

        // Someone else changes the memory after the page read it.
        var other = await fx.Api.PatchAsJsonAsync($"/v1/users/{ExplorerFixture.User}/memories/{id}", new { content = "Reads Portuguese novels" }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);

        content.Clear();
        content.SendKeys("Reads Spanish poetry");
        Wait($"article[data-id='{id}'] form.edit button[type=submit]").Click();
        var problem = Wait($"article[data-id='{id}'] .problem[data-status='412']");
        Assert.Contains("HTTP 412", problem.Text);
        Assert.Contains("changed this memory since you opened it", problem.Text);
        Assert.Matches(@"Trace id: \S+", problem.Text);
        Assert.Equal("Reads Portuguese novels", (await GetMemoryAsync(id)).GetProperty("content").GetString());

        // Reload, edit again with the fresh ETag: it saves.
        Wait($"article[data-id='{id}'] .problem-slot button").Click();
        Until(() => Browser.FindElements(By.CssSelector($"article[data-id='{id}'][data-version='2']")).Count == 1, "the reload did not show version 2");
        Wait($"article[data-id='{id}'] button[data-action=edit]").Click();
        var importance = Wait($"article[data-id='{id}'] input[name=importance]");
        importance.Clear();
        importance.SendKeys("0.7");
        Wait($"article[data-id='{id}'] form.edit button[type=submit]").Click();
        Until(() => Browser.FindElements(By.CssSelector($"article[data-id='{id}'][data-version='3']")).Count == 1, "the second save did not land");
        var saved = await GetMemoryAsync(id);
        Assert.Equal(0.7, saved.GetProperty("importance").GetDouble());
        Assert.Equal("Reads Portuguese novels", saved.GetProperty("content").GetString());
    }

    [Fact]
    public async Task AnArchivedMemoryIsShownOnRequestAndRestoredWithOneClick()
    {
        var id = await fx.CreateAsync(ExplorerFixture.User, new { content = "Collects vintage fountain pens", kind = "fact" });
        var archived = await fx.Api.PatchAsJsonAsync($"/v1/users/{ExplorerFixture.User}/memories/{id}", new { status = "archived" }, ApiFactory.Json);
        Assert.Equal(HttpStatusCode.OK, archived.StatusCode);
        SignIn($"#/users/{ExplorerFixture.User}");
        WaitAll("article.memory");
        Assert.Empty(Browser.FindElements(By.CssSelector($"article[data-id='{id}']"))); // archived ones are not listed by default

        Wait("label[for^=archived]").Click();
        var card = Wait($"article[data-id='{id}']");
        Assert.Contains("archived", card.FindElement(By.CssSelector(".content")).Text);
        card.FindElement(By.CssSelector("button[data-action=restore]")).Click();

        Until(() => Browser.FindElements(By.CssSelector($"article[data-id='{id}'] button[data-action=restore]")).Count == 0
            && Browser.FindElements(By.CssSelector($"article[data-id='{id}']")).Count == 1, "the restored memory still offers Restore");
        Assert.Equal("active", (await GetMemoryAsync(id)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task SearchShowsEachScoreComponentAsABar()
    {
        const string query = "fish curry on Friday";
        SignIn($"#/why?user={ExplorerFixture.User}");
        Wait("form[role=search] input[type=search]").SendKeys(query + Keys.Enter);
        var hits = WaitAll("ol.hits li.hit");

        var api = await ApiFactory.ReadAsync<JsonElement>(await fx.Api.PostAsJsonAsync($"/v1/users/{ExplorerFixture.User}/memories/search",
            new { query, limit = 10, explain = true }, ApiFactory.Json));
        var first = api.GetProperty("items")[0];
        Assert.Equal(first.GetProperty("memory").GetProperty("id").GetString(), hits[0].GetAttribute("data-id"));
        Assert.Contains("Cooks a fish curry every Friday", hits[0].Text);

        foreach (var part in new[] { "similarity", "keyword", "recency", "importance", "activation", "context", "graph" })
        {
            var row = hits[0].FindElement(By.CssSelector($"tr[data-part='{part}']"));
            var shown = double.Parse(row.FindElement(By.CssSelector(".part-value")).Text, CultureInfo.InvariantCulture);
            var bar = row.FindElement(By.CssSelector(".bar"));
            var fill = bar.FindElement(By.CssSelector(".fill"));
            // The bar's length is its number: fill width / bar width = value (to a pixel).
            Assert.InRange(fill.Size.Width, shown * bar.Size.Width - 1.5, shown * bar.Size.Width + 1.5);
            if (part is "similarity" or "keyword" or "importance")
                Assert.Equal(first.GetProperty("explain").GetProperty(part).GetDouble(), shown, 3);
        }
        Assert.True(double.Parse(hits[0].FindElement(By.CssSelector("tr[data-part='keyword'] .part-value")).Text, CultureInfo.InvariantCulture) > 0,
            "the best hit shares words with the query, so its keyword bar is not empty");
        fx.Screenshot("explorer-why-search");
    }

    [Fact]
    public async Task ContextPreviewShowsThePromptItsTokenCountAndWhatWasDropped()
    {
        const string query = "what should I cook tonight";
        var full = await BuildContextAsync(query, 800);
        var budget = full.GetProperty("token_count").GetInt32() - 8; // too small for everything: something is dropped
        var api = await BuildContextAsync(query, budget);
        Assert.NotEmpty(api.GetProperty("dropped").EnumerateArray());

        SignIn($"#/why?user={ExplorerFixture.User}");
        var topic = Wait("input[id^=ctx-query]");
        topic.SendKeys(query);
        var budgetInput = Wait("input[id^=ctx-budget]");
        budgetInput.Clear();
        budgetInput.SendKeys(budget.ToString(CultureInfo.InvariantCulture) + Keys.Enter);

        var count = Wait(".context .token-count");
        Assert.Equal(api.GetProperty("token_count").GetInt32().ToString(CultureInfo.InvariantCulture), count.Text);
        Assert.Equal(budget.ToString(CultureInfo.InvariantCulture), Wait(".context .token-budget").Text);
        Assert.True(api.GetProperty("token_count").GetInt32() <= budget);
        var prompt = (string?)Js("return document.querySelector('.context pre.prompt').textContent");
        Assert.Equal(api.GetProperty("system_prompt").GetString(), prompt);
        Assert.Equal(api.GetProperty("memories").GetArrayLength(), Browser.FindElements(By.CssSelector(".context ul.included li")).Count);
        var dropped = Browser.FindElements(By.CssSelector(".context ul.dropped li"));
        Assert.Equal(api.GetProperty("dropped").GetArrayLength(), dropped.Count);
        Assert.Equal(api.GetProperty("dropped")[0].GetProperty("id").GetString(), dropped[0].GetAttribute("data-id"));
        fx.Screenshot("explorer-why-context");
    }

    [Fact]
    public void AWrongKeyShowsAClearErrorAndStaysSignedOut()
    {
        Open("");
        if (Browser.FindElement(By.Id("sign-out")).Displayed) Browser.FindElement(By.Id("sign-out")).Click();
        var input = Wait("#api-key");
        input.Clear();
        input.SendKeys("ms_this-is-not-a-key" + Keys.Enter);
        var problem = Wait("#sign-in-error .problem");
        Assert.Contains("Sign-in failed: the key was refused", problem.Text);
        Assert.Contains("HTTP 401", problem.Text);
        Assert.Contains("not accepted", problem.Text);
        Assert.False(Browser.FindElement(By.Id("nav")).Displayed);
        Assert.Null(Js("return sessionStorage.getItem('memoryservice.explorer.key')"));
        fx.Screenshot("explorer-wrong-key");
    }

    [Fact]
    public async Task ThePageIsServedWithAContentSecurityPolicyAndNoInlineScript()
    {
        using var anonymous = new HttpClient { BaseAddress = new Uri(fx.BaseUrl) };
        var page = await anonymous.GetAsync("/explorer");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(" ", page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp);
        Assert.Contains("default-src 'none'", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        var html = await page.Content.ReadAsStringAsync();
        Assert.DoesNotMatch(@"<script(?![^>]*\bsrc=)[^>]*>", html);
        var script = await anonymous.GetAsync("/explorer/explorer.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.True(script.Headers.Contains("Content-Security-Policy"));
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.GetAsync("/explorer/appsettings.json")).StatusCode);
    }

    [Fact]
    public async Task UserSearchMatchesPartOfTheIdIgnoringCaseAcrossPages()
    {
        var first = await ApiFactory.ReadAsync<JsonElement>(await fx.Api.GetAsync("/v1/users?q=GRACE&limit=1"));
        Assert.Equal("Grace-Brewster", Assert.Single(first.GetProperty("items").EnumerateArray()).GetProperty("user_id").GetString());
        var cursor = first.GetProperty("next_cursor").GetString();
        var second = await ApiFactory.ReadAsync<JsonElement>(await fx.Api.GetAsync($"/v1/users?q=GRACE&limit=1&cursor={cursor}"));
        Assert.Equal("grace-hopper", Assert.Single(second.GetProperty("items").EnumerateArray()).GetProperty("user_id").GetString());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);
        // LIKE wildcards are literal text.
        var wildcard = await ApiFactory.ReadAsync<JsonElement>(await fx.Api.GetAsync("/v1/users?q=%25"));
        Assert.Empty(wildcard.GetProperty("items").EnumerateArray());
        Assert.Equal(HttpStatusCode.BadRequest, (await fx.Api.GetAsync($"/v1/users?q={new string('x', 129)}")).StatusCode);
    }

    // ---- helpers ----

    private async Task<JsonElement> GetMemoryAsync(Guid id) =>
        await ApiFactory.ReadAsync<JsonElement>(await fx.Api.GetAsync($"/v1/users/{ExplorerFixture.User}/memories/{id}"));

    private async Task<JsonElement> BuildContextAsync(string query, int budget) =>
        await ApiFactory.ReadAsync<JsonElement>(await fx.Api.PostAsJsonAsync($"/v1/users/{ExplorerFixture.User}/context",
            new { query, token_budget = budget }, ApiFactory.Json));

    private void Open(string hash)
    {
        Browser.Navigate().GoToUrl($"{fx.BaseUrl}/explorer{hash}");
        Until(() => (string?)Js("return document.readyState") == "complete", "the page did not load");
    }

    /// <summary>Opens the page at a view, signing in by typing the key when this session is not signed in yet.</summary>
    private void SignIn(string hash = "#/users")
    {
        Open(hash);
        if (Js("return sessionStorage.getItem('memoryservice.explorer.key')") is null)
        {
            var input = Wait("#api-key");
            input.Clear();
            input.SendKeys(fx.Key);
            Wait("#sign-in-form button[type=submit]").Click();
        }
        Until(() => Browser.FindElement(By.Id("nav")).Displayed, "signing in with the tenant key did not show the views");
        if (Browser.Url.EndsWith(hash, StringComparison.Ordinal) is false) Open(hash);
    }

    private object? Js(string script, params object[] args) => ((IJavaScriptExecutor)Browser).ExecuteScript(script, args);

    private IWebElement Wait(string css)
    {
        IWebElement? found = null;
        Until(() => (found = Browser.FindElements(By.CssSelector(css)).FirstOrDefault(e => e.Displayed)) is not null, $"nothing visible matches {css}");
        return found!;
    }

    private IReadOnlyList<IWebElement> WaitAll(string css)
    {
        Wait(css);
        return Browser.FindElements(By.CssSelector(css));
    }

    private void Until(Func<bool> condition, string failure)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try { if (condition()) return; }
            catch (StaleElementReferenceException) { }
            catch (NoSuchElementException) { }
            if (clock.Elapsed > Patience)
            {
                var problem = Browser.FindElements(By.CssSelector(".problem")).Select(p => p.Text).FirstOrDefault();
                Assert.Fail($"{failure} within {Patience.TotalSeconds:0} s{(problem is null ? "" : $"; the page shows: {problem}")}");
            }
            Thread.Sleep(100);
        }
    }
}

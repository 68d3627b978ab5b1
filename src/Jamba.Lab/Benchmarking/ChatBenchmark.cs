using System.Diagnostics;
using Jamba.Chat;
using Jamba.Inference;

namespace Jamba.Lab.Benchmarking;

/// <summary>One turn of <see cref="ChatBenchmark"/>: the prompt, what the cache supplied, and the time to first token both ways.</summary>
/// <param name="Turn">1-based turn.</param>
/// <param name="PromptTokens">Tokens of the whole rendered conversation.</param>
/// <param name="ReusedTokens">Tokens the reusing session took from its cache.</param>
/// <param name="WithReuse">Time to first token when only the new tokens are prefilled.</param>
/// <param name="WithoutReuse">Time to first token when the whole conversation is prefilled.</param>
public sealed record ChatBenchmarkRow(int Turn, int PromptTokens, int ReusedTokens, TimeSpan WithReuse, TimeSpan WithoutReuse);

/// <summary>
/// Times the first token of each turn of a growing conversation on two <see cref="ChatSession"/>s over the same
/// model and prompts: one reusing its cache across turns, one prefilling the whole conversation every turn.
/// </summary>
public static class ChatBenchmark
{
    /// <summary>The template used when the checkpoint has none: role headers, one message per line.</summary>
    public const string PlainTemplate = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ '\\n' }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

    /// <summary>
    /// Runs <paramref name="turns"/> turns: each adds a user message of about <paramref name="userWords"/> words, and
    /// the reusing session answers with <paramref name="answerTokens"/> greedy tokens (the answer joins the conversation).
    /// </summary>
    public static List<ChatBenchmarkRow> Run(JambaModel model, ChatTemplate template, int turns, int userWords = 48, int answerTokens = 32,
        int prefillChunk = 512, Action<string>? progress = null)
    {
        var tokenizer = model.RequireTokenizer();
        using var reusing = new ChatSession(model);
        using var fresh = new ChatSession(model) { ReuseCache = false };
        var options = new GenerationOptions { MaxNewTokens = answerTokens, Temperature = 0, IgnoreStopTokens = true, PrefillChunkSize = prefillChunk };
        var firstOnly = new GenerationOptions { MaxNewTokens = 1, Temperature = 0, IgnoreStopTokens = true, PrefillChunkSize = prefillChunk };
        var messages = new List<Dictionary<string, object?>> { new() { ["role"] = "system", ["content"] = "You answer questions about the text." } };
        var rows = new List<ChatBenchmarkRow>();
        var words = new[] { "the", "fox", "river", "jumped", "over", "a", "quiet", "stone", "bridge", "near", "old", "mill" };
        for (int turn = 1; turn <= turns; turn++)
        {
            messages.Add(new() { ["role"] = "user", ["content"] = string.Join(' ', Enumerable.Range(0, userWords).Select(i => words[(i * 7 + turn) % words.Length])) });
            var prompt = tokenizer.Encode(template.Render(messages, addGenerationPrompt: true));

            var answer = reusing.Generate(prompt, options).ToList();
            var withReuse = reusing.LastTimeToFirstToken;
            int reused = reusing.LastReusedTokens;

            var clock = Stopwatch.StartNew();
            _ = fresh.Generate(prompt, firstOnly).ToList();
            var withoutReuse = clock.Elapsed;

            rows.Add(new ChatBenchmarkRow(turn, prompt.Count, reused, withReuse, withoutReuse));
            progress?.Invoke($"turn {turn}: {prompt.Count} prompt tokens, {reused} reused, first token {withReuse.TotalMilliseconds:F0} ms with reuse, {withoutReuse.TotalMilliseconds:F0} ms without");
            messages.Add(new() { ["role"] = "assistant", ["content"] = tokenizer.Decode(answer) });
        }
        return rows;
    }
}

using System.Diagnostics;
using Jamba.Inference;

namespace Jamba.Quickstart;

/// <summary>One generated continuation and how fast it was decoded.</summary>
/// <param name="Prompt">The prompt.</param>
/// <param name="Continuation">The new text.</param>
/// <param name="NewTokens">Tokens generated.</param>
/// <param name="PrefillSeconds">Time to the first new token (the prompt's forward pass fills the KV cache and Mamba state).</param>
/// <param name="DecodeSeconds">Time for the remaining tokens, each a one-token step on the cache.</param>
public sealed record DecodeRun(string Prompt, string Continuation, int NewTokens, double PrefillSeconds, double DecodeSeconds)
{
    /// <summary>Decode speed after the first token; NaN when fewer than two tokens were generated.</summary>
    public double DecodeTokensPerSecond => NewTokens > 1 && DecodeSeconds > 0 ? (NewTokens - 1) / DecodeSeconds : double.NaN;

    /// <summary>
    /// Greedily continues <paramref name="prompt"/> by <paramref name="newTokens"/> tokens with the hybrid cache
    /// (stop tokens ignored so every run decodes the same number of steps and the speed figures compare; greedy even
    /// when the checkpoint's generation_config.json asks for sampling, so the run is reproducible).
    /// </summary>
    public static DecodeRun Measure(JambaModel model, string prompt, int newTokens)
    {
        var tokenizer = model.RequireTokenizer();
        var ids = tokenizer.Encode(prompt, addBos: tokenizer.BosId is not null);
        var options = new GenerationOptions { MaxNewTokens = newTokens, IgnoreStopTokens = true, Temperature = 0f };
        var produced = new List<int>();
        var clock = Stopwatch.StartNew();
        double first = 0;
        foreach (var step in model.StreamIds(new[] { ids }, options))
        {
            if (produced.Count == 0) first = clock.Elapsed.TotalSeconds;
            produced.Add(step[0]);
        }
        double total = clock.Elapsed.TotalSeconds;
        // Ids the byte tokenizer cannot decode (none for a byte vocabulary) are dropped rather than failing the demo.
        var decodable = produced.Where(id => id < tokenizer.VocabSize);
        return new DecodeRun(prompt, tokenizer.Decode(decodable), produced.Count, first, total - first);
    }
}

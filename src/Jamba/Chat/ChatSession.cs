using System.Diagnostics;
using Jamba.Inference;
using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Chat;

/// <summary>
/// One conversation's decoding state: a <see cref="HybridCache"/> kept between requests, so that a prompt which
/// extends the previous prompt is prefilled only from where the previous one ended.
/// </summary>
/// <remarks>
/// The next turn's prompt is the previous prompt, then the assistant's answer as the template renders it, then the
/// new user message. The tokens generated last turn sit in the cache after the previous prompt, but the template may
/// render them differently (trailing end-of-message token, tool-call formatting), so they cannot be trusted. What is
/// reusable is exactly the previous prompt: its KV entries (kept by truncating the KV buffers back to its length)
/// and the Mamba conv and SSM states at its end, which a recurrent layer cannot recover by rolling back, so they are
/// copied (<see cref="HybridCache.Snapshot"/>) right after the prompt's prefill, before the first generated token.
/// A prompt that does not start with the previous prompt's tokens is prefilled from scratch.
/// Not thread-safe: one request at a time.
/// </remarks>
public sealed class ChatSession : IDisposable
{
    private readonly JambaModel model;
    private HybridCache? cache;
    private HybridCacheSnapshot? snapshot;
    private int[]? cachedPrompt;
    private Tensor? promptLogits;

    /// <summary>A session over <paramref name="model"/>, a causal LM (not owned).</summary>
    public ChatSession(JambaModel model)
    {
        this.model = model;
        if (model.CausalLM is null) throw new ArgumentException("chat needs a causal LM (JambaForCausalLM); this checkpoint is a sequence classifier", nameof(model));
    }

    /// <summary>Whether the cache is reused when a prompt extends the previous one (default true; false always prefills the whole prompt).</summary>
    public bool ReuseCache { get; set; } = true;

    /// <summary>Tokens of the last prompt that came from the cache rather than a prefill.</summary>
    public int LastReusedTokens { get; private set; }
    /// <summary>Tokens of the last prompt that were prefilled.</summary>
    public int LastPrefilledTokens { get; private set; }
    /// <summary>Time from the start of the last request to its first sampled token.</summary>
    public TimeSpan LastTimeToFirstToken { get; private set; }

    /// <summary>Forgets the cached conversation; the next prompt is prefilled whole.</summary>
    public void Reset()
    {
        snapshot?.Dispose();
        snapshot = null;
        promptLogits?.Dispose();
        promptLogits = null;
        cache?.Dispose();
        cache = null;
        cachedPrompt = null;
    }

    /// <summary>
    /// Generates after <paramref name="prompt"/> (ids, special tokens included), yielding each new token; a stop token
    /// is yielded and ends the stream. Options not set take the checkpoint's <c>generation_config.json</c> values.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        if (prompt.Count == 0) throw new ArgumentException("the prompt has no tokens", nameof(prompt));
        options = options.WithDefaults(model.GenerationConfig);
        options.Validate();
        var lm = model.CausalLM!;
        var device = lm.HeadWeight.device;
        var stopIds = options.IgnoreStopTokens ? new HashSet<int>() : new HashSet<int>(options.StopTokenIds ?? model.Config.EosTokenIds);
        var clock = Stopwatch.StartNew();

        Tensor logits = PrefillPrompt(lm, prompt, options.PrefillChunkSize, cancellationToken);
        using var generator = options.Temperature > 0 ? new Generator((ulong)(options.Seed ?? Random.Shared.NextInt64()), device) : null;
        var seen = options.RepetitionPenalty != 1f ? new List<long>(prompt.Select(t => (long)t)) : null;
        try
        {
            for (int step = 0; step < options.MaxNewTokens; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int token;
                using (NewDisposeScope())
                using (no_grad())
                {
                    var seenTensor = seen is null ? null : tensor(seen.ToArray(), new long[] { 1, seen.Count }, device: device);
                    token = (int)Sampling.Next(logits, options, generator, seenTensor).cpu().item<long>();
                }
                if (step == 0) LastTimeToFirstToken = clock.Elapsed;
                seen?.Add(token);
                yield return token;
                if (stopIds.Contains(token) || step == options.MaxNewTokens - 1) break;
                var previous = logits;
                logits = Forward(lm, new[] { token }, device);
                previous.Dispose();
            }
        }
        finally
        {
            logits.Dispose();
        }
    }

    /// <summary>Brings the cache to the end of <paramref name="prompt"/> and returns the logits [1, vocab] of its last position.</summary>
    private Tensor PrefillPrompt(JambaForCausalLM lm, IReadOnlyList<int> prompt, int chunk, CancellationToken cancellationToken)
    {
        int reused = 0;
        if (ReuseCache && cache is not null && snapshot is not null && cachedPrompt is not null && prompt.Count >= cachedPrompt.Length && StartsWith(prompt, cachedPrompt))
        {
            cache.Restore(snapshot);
            reused = cachedPrompt.Length;
        }
        else
        {
            Reset();
            cache = new HybridCache(model.Config, 1, prompt.Count + 256, lm.HeadWeight.device, lm.HeadWeight.dtype);
        }
        // Until the new snapshot exists the cache matches no recorded prompt (a cancelled prefill leaves it half written).
        cachedPrompt = null;
        Tensor logits;
        if (reused == prompt.Count)
        {
            logits = promptLogits!.clone().DetachFromDisposeScope();
        }
        else
        {
            logits = null!;
            var ids = prompt.Skip(reused).ToArray();
            for (int start = 0; start < ids.Length; start += chunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var next = Forward(lm, ids.AsSpan(start, Math.Min(chunk, ids.Length - start)).ToArray(), lm.HeadWeight.device);
                logits?.Dispose();
                logits = next;
            }
        }
        snapshot?.Dispose();
        snapshot = cache!.Snapshot();
        promptLogits?.Dispose();
        promptLogits = logits.clone().DetachFromDisposeScope();
        cachedPrompt = prompt.ToArray();
        LastReusedTokens = reused;
        LastPrefilledTokens = prompt.Count - reused;
        return logits;
    }

    /// <summary>One step through the model's engine (<see cref="InferenceStep"/>): float32 logits [1, vocab] of the last id.</summary>
    private Tensor Forward(JambaForCausalLM lm, int[] ids, Device device)
    {
        using var scope = NewDisposeScope();
        var input = tensor(ids.Select(i => (long)i).ToArray(), new long[] { 1, ids.Length }, device: device);
        return InferenceStep.LastLogits(lm, model.Engine, input, null, cache!).MoveToOuterDisposeScope();
    }

    private static bool StartsWith(IReadOnlyList<int> prompt, int[] prefix)
    {
        for (int i = 0; i < prefix.Length; i++)
            if (prompt[i] != prefix[i]) return false;
        return true;
    }

    /// <summary>Frees the cache and the snapshot.</summary>
    public void Dispose() => Reset();
}

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
        var clock = Stopwatch.StartNew();
        var generator = new TokenGenerator(model.CausalLM!, model.Engine);
        using var ids = tensor(prompt.Select(t => (long)t).ToArray(), new long[] { 1, prompt.Count }, device: model.Device);
        var logits = PrefillPrompt(generator, prompt.ToArray(), ids, options.PrefillChunkSize, cancellationToken);
        bool first = true;
        foreach (var tokens in generator.Continue(logits, cache!, ids, options, cancellationToken))
        {
            if (first) LastTimeToFirstToken = clock.Elapsed;
            first = false;
            yield return (int)tokens[0];
        }
    }

    /// <summary>
    /// Brings the cache to the end of <paramref name="tokens"/> (as the tensor <paramref name="prompt"/> [1, T]) and
    /// returns the logits [1, vocab] of its last position, prefilling only what the kept cache lacks.
    /// </summary>
    private Tensor PrefillPrompt(TokenGenerator generator, int[] tokens, Tensor prompt, int chunk, CancellationToken cancellationToken)
    {
        int reused = 0;
        if (ReuseCache && cache is not null && snapshot is not null && cachedPrompt is not null && tokens.Length >= cachedPrompt.Length
            && tokens.AsSpan(0, cachedPrompt.Length).SequenceEqual(cachedPrompt))
        {
            cache.Restore(snapshot);
            reused = cachedPrompt.Length;
        }
        else
        {
            Reset();
            cache = new HybridCache(model.Config, 1, tokens.Length + 256, model.Device, model.DType);
        }
        // Until the new snapshot exists the cache matches no recorded prompt (a cancelled prefill leaves it half written).
        cachedPrompt = null;
        Tensor logits;
        if (reused == tokens.Length)
            logits = promptLogits!.clone().DetachFromDisposeScope();
        else
            using (NewDisposeScope())
                logits = generator.Prefill(prompt.narrow(1, reused, tokens.Length - reused), null, cache, chunk, cancellationToken).MoveToOuterDisposeScope();
        snapshot?.Dispose();
        snapshot = cache.Snapshot();
        promptLogits?.Dispose();
        promptLogits = logits.clone().DetachFromDisposeScope();
        cachedPrompt = tokens;
        LastReusedTokens = reused;
        LastPrefilledTokens = tokens.Length - reused;
        return logits;
    }

    /// <summary>Frees the cache and the snapshot.</summary>
    public void Dispose() => Reset();
}

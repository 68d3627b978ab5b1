using TorchSharp;
using Jamba.Modeling;
using static TorchSharp.torch;
using Jamba.Runtime;

namespace Jamba.Inference;

/// <summary>
/// Autoregressive decoding with the hybrid cache: the prompt is prefilled in bounded chunks, then each step
/// feeds one token per row through every layer (recurrent update in Mamba layers, one KV append in attention
/// layers). Rows are left-padded; a row that emits a stop token is padded with pad_token_id from then on,
/// as the reference's generate does, and decoding ends when every row has stopped.
/// </summary>
public sealed class TokenGenerator
{
    private readonly JambaForCausalLM model;
    private readonly JambaEngine engine;

    /// <summary>
    /// Creates a generator over <paramref name="model"/> (which it does not own), its steps run by
    /// <paramref name="engine"/> (see <see cref="JambaModelOptions.Engine"/>).
    /// </summary>
    public TokenGenerator(JambaForCausalLM model, JambaEngine engine = JambaEngine.Cpu)
    {
        this.model = model;
        this.engine = engine;
    }

    /// <summary>
    /// Streams the new token of every row, one array per step. <paramref name="inputIds"/> [batch, T] are
    /// left-padded prompts with <paramref name="attentionMask"/> [batch, T] (null: no padding).
    /// Stops early on cancellation (throwing <see cref="OperationCanceledException"/>).
    /// </summary>
    public IEnumerable<long[]> Stream(Tensor inputIds, Tensor? attentionMask, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var device = model.Device;
        long batch = inputIds.size(0), promptLength = inputIds.size(1);
        if (promptLength == 0) throw new ArgumentException("every prompt needs at least one token (add BOS to an empty prompt)", nameof(inputIds));
        bool wasTraining = model.training;
        model.eval();
        using var cache = new HybridCache(model.Config, batch, promptLength + options.MaxNewTokens, device, model.DType);
        try
        {
            Tensor logits;
            using (NewDisposeScope())
                logits = Prefill(inputIds.to(device), attentionMask?.to(device), cache, options.PrefillChunkSize, cancellationToken).MoveToOuterDisposeScope();
            foreach (var tokens in Continue(logits, cache, inputIds, options, cancellationToken))
                yield return tokens;
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }

    /// <summary>
    /// The decoding loop after a prefill: samples from <paramref name="logits"/> [batch, vocab] (the last prefilled
    /// position's, taken over and disposed), then steps <paramref name="cache"/> (the caller's, left at the end of the
    /// generated tokens) one token per row, streaming each step's tokens. <paramref name="prompt"/> [batch, T] are the
    /// ids the cache holds, read only by <see cref="GenerationOptions.RepetitionPenalty"/>. A row that emits a stop
    /// token is padded from then on; the stream ends when every row has stopped or after
    /// <see cref="GenerationOptions.MaxNewTokens"/> tokens. Stream uses it after its own prefill; a chat session uses
    /// it after prefilling only what its kept cache lacks.
    /// </summary>
    public IEnumerable<long[]> Continue(Tensor logits, HybridCache cache, Tensor prompt, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var config = model.Config;
        var device = model.Device;
        long batch = logits.size(0);
        var stopIds = options.IgnoreStopTokens ? new HashSet<long>() : new HashSet<long>((options.StopTokenIds ?? config.EosTokenIds).Select(i => (long)i));
        long pad = options.PadTokenId ?? config.PadTokenId ?? 0;
        using var generator = options.Temperature > 0
            ? new Generator((ulong)(options.Seed ?? Random.Shared.NextInt64()), device)
            : null;
        // The rows so far (prompt, padding and new tokens), as Hugging Face's repetition penalty reads them.
        Tensor? seen = null;
        if (options.RepetitionPenalty != 1f)
            using (NewDisposeScope()) seen = prompt.to(device).to_type(ScalarType.Int64).clone().MoveToOuterDisposeScope();
        try
        {
            var finished = new bool[batch];
            for (int step = 0; step < options.MaxNewTokens; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long[] tokens;
                using (NewDisposeScope())
                using (no_grad())
                    tokens = Sampling.Next(logits, options, generator, seen).cpu().data<long>().ToArray();
                for (int b = 0; b < batch; b++)
                {
                    if (finished[b]) tokens[b] = pad;
                    else if (stopIds.Contains(tokens[b])) finished[b] = true;
                }
                if (seen is not null)
                {
                    using var stepTokens = tensor(tokens, new long[] { batch, 1 }, device: device);
                    var grown = cat(new[] { seen, stepTokens }, 1);
                    seen.Dispose();
                    seen = grown;
                }
                yield return tokens;
                if (step == options.MaxNewTokens - 1 || finished.All(f => f)) break;
                var previous = logits;
                logits = DecodeStep(tokens, cache, device);
                previous.Dispose();
            }
        }
        finally
        {
            logits.Dispose();
            seen?.Dispose();
        }
    }

    /// <summary>Generates and returns each row's prompt (padding included) followed by its new tokens.</summary>
    public long[][] Generate(Tensor inputIds, Tensor? attentionMask, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        long batch = inputIds.size(0);
        List<long>[] rows;
        using (NewDisposeScope())
            rows = Enumerable.Range(0, (int)batch).Select(b => inputIds[b].cpu().to_type(ScalarType.Int64).data<long>().ToList()).ToArray();
        foreach (var tokens in Stream(inputIds, attentionMask, options, cancellationToken))
            for (int b = 0; b < batch; b++) rows[b].Add(tokens[b]);
        return rows.Select(r => r.ToArray()).ToArray();
    }

    /// <summary>Left-pads prompts of different lengths into ids and mask tensors [batch, longest].</summary>
    public static (Tensor ids, Tensor mask) LeftPad(IReadOnlyList<IReadOnlyList<int>> prompts, int padId, Device? device = null)
    {
        int longest = prompts.Count == 0 ? 0 : prompts.Max(p => p.Count);
        var ids = new long[prompts.Count * longest];
        var mask = new long[prompts.Count * longest];
        for (int b = 0; b < prompts.Count; b++)
        {
            int offset = longest - prompts[b].Count;
            for (int t = 0; t < longest; t++)
            {
                bool real = t >= offset;
                ids[b * longest + t] = real ? prompts[b][t - offset] : padId;
                mask[b * longest + t] = real ? 1 : 0;
            }
        }
        return (tensor(ids, new long[] { prompts.Count, longest }, device: device), tensor(mask, new long[] { prompts.Count, longest }, device: device));
    }

    /// <summary>
    /// Feeds <paramref name="ids"/> [rows, T] (left-padding marked by <paramref name="mask"/>, or null) into
    /// <paramref name="cache"/> in chunks of at most <paramref name="chunkSize"/> positions and returns the float32
    /// logits [rows, vocab] of the last position: what <see cref="Continue"/> starts from.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled between chunks (the cache is then partly written).</exception>
    public Tensor Prefill(Tensor ids, Tensor? mask, HybridCache cache, int chunkSize, CancellationToken cancellationToken = default)
    {
        if (chunkSize < 1) throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, "the prefill chunk must be at least one position");
        long length = ids.size(1);
        Tensor? last = null;
        try
        {
            for (long start = 0; start < length; start += chunkSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long n = Math.Min(chunkSize, length - start);
                var logits = InferenceStep.LastLogits(model, engine, ids.narrow(1, start, n), mask?.narrow(1, start, n), cache);
                last?.Dispose();
                last = logits;
                // A long prompt's chunks leave freed activations scattered over the allocator's heaps, and the peak
                // grows chunk by chunk; handing free pages back after each chunk keeps it at one chunk's workspace.
                if (length > 4L * chunkSize) NativeHeap.Trim();
            }
        }
        catch
        {
            last?.Dispose();
            throw;
        }
        return last ?? throw new ArgumentException("nothing to prefill: the ids have no positions", nameof(ids));
    }

    private Tensor DecodeStep(long[] tokens, HybridCache cache, Device device)
    {
        using var next = tensor(tokens, new long[] { tokens.Length, 1 }, device: device);
        return InferenceStep.LastLogits(model, engine, next, null, cache);
    }
}

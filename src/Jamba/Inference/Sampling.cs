using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Inference;

/// <summary>Chooses the next token from logits: greedy, or temperature → top-k → top-p → multinomial (the reference's order).</summary>
public static class Sampling
{
    /// <summary>
    /// Returns the next token of each row [batch] (int64) from logits [batch, vocab]; <paramref name="seen"/> [batch, T]
    /// (int64) are the row's tokens so far, needed only for <see cref="GenerationOptions.RepetitionPenalty"/>.
    /// </summary>
    public static Tensor Next(Tensor logits, GenerationOptions options, Generator? generator, Tensor? seen = null)
    {
        using var scope = NewDisposeScope();
        if (options.RepetitionPenalty != 1f && seen is not null) logits = ApplyRepetitionPenalty(logits, seen, options.RepetitionPenalty);
        if (options.Temperature == 0) return logits.argmax(-1).MoveToOuterDisposeScope();
        var scores = logits.to_type(ScalarType.Float32) / options.Temperature;
        if (options.TopK > 0 && options.TopK < scores.size(-1))
        {
            var kth = scores.topk(options.TopK, dim: -1).values.narrow(-1, options.TopK - 1, 1);
            scores = scores.masked_fill(scores.lt(kth), float.NegativeInfinity);
        }
        if (options.TopP < 1f)
        {
            // Drop the tail whose cumulative probability (in ascending order) stays within 1 - p; the best token always survives.
            var (sorted, order) = scores.sort(-1, descending: false);
            var cumulative = nn.functional.softmax(sorted, -1).cumsum(-1);
            var dropSorted = cumulative.le(1 - options.TopP);
            dropSorted.select(-1, dropSorted.size(-1) - 1).fill_(false);
            var drop = zeros_like(dropSorted).scatter(-1, order, dropSorted);
            scores = scores.masked_fill(drop, float.NegativeInfinity);
        }
        var probs = nn.functional.softmax(scores, -1);
        return multinomial(probs, 1, generator: generator).squeeze(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Hugging Face's <c>RepetitionPenaltyLogitsProcessor</c>: the float32 logits of the tokens in <paramref name="seen"/>
    /// are divided by <paramref name="penalty"/> where positive and multiplied by it where negative (a token seen twice
    /// is penalised once).
    /// </summary>
    public static Tensor ApplyRepetitionPenalty(Tensor logits, Tensor seen, float penalty)
    {
        using var scope = NewDisposeScope();
        var scores = logits.to_type(ScalarType.Float32);
        var picked = scores.gather(-1, seen);
        var penalised = where(picked.lt(0), picked * penalty, picked / penalty);
        return scores.scatter(-1, seen, penalised).MoveToOuterDisposeScope();
    }
}

using Jamba.Tokenization;
using static TorchSharp.torch;

namespace Jamba.Inference;

/// <summary>Which tokens survive when a text has more tokens than a limit allows.</summary>
public enum TruncationPolicy
{
    /// <summary>Keep the first tokens and drop the tail (Hugging Face's <c>truncation_side="right"</c>; the default).</summary>
    KeepStart,
    /// <summary>Keep the last tokens and drop the head (useful when the end of a text carries the signal).</summary>
    KeepEnd,
}

/// <summary>
/// Turns texts into bounded id sequences and left-padded batches. Every batched component (embedding, label
/// scoring, language-model scoring, fine-tuning) goes through here so that truncation and padding agree.
/// </summary>
public static class TextEncoding
{
    /// <summary>
    /// Encodes <paramref name="text"/> (null is treated as empty) and cuts it to <paramref name="maxTokens"/> ids
    /// (0 or less: no limit). BOS, when asked for and the vocabulary has one, is always kept as the first id and
    /// counts towards the limit.
    /// </summary>
    public static int[] Encode(IJambaTokenizer tokenizer, string? text, int maxTokens, TruncationPolicy truncation, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        bool bos = addBos && tokenizer.BosId is not null;
        var body = tokenizer.Encode(text ?? string.Empty);
        int room = maxTokens > 0 ? Math.Max(0, maxTokens - (bos ? 1 : 0)) : int.MaxValue;
        int take = Math.Min(room, body.Count);
        int start = truncation == TruncationPolicy.KeepEnd ? body.Count - take : 0;
        var ids = new int[take + (bos ? 1 : 0)];
        if (bos) ids[0] = tokenizer.BosId!.Value;
        for (int i = 0; i < take; i++) ids[i + (bos ? 1 : 0)] = body[start + i];
        return ids;
    }

    /// <summary>
    /// Cuts an id sequence to <paramref name="maxTokens"/> (0 or less: no limit) by <paramref name="truncation"/>.
    /// </summary>
    public static IReadOnlyList<int> Truncate(IReadOnlyList<int> ids, int maxTokens, TruncationPolicy truncation)
    {
        if (maxTokens <= 0 || ids.Count <= maxTokens) return ids;
        int start = truncation == TruncationPolicy.KeepEnd ? ids.Count - maxTokens : 0;
        return ids.Skip(start).Take(maxTokens).ToArray();
    }

    /// <summary>
    /// Left-pads rows into int64 ids [batch, T] and a 0/1 mask [batch, T] on <paramref name="device"/>. Left padding
    /// keeps every row's last real token at position T-1, which is where decoding, last-token pooling and the
    /// reference classifier read from.
    /// </summary>
    public static (Tensor ids, Tensor mask) LeftPad(IReadOnlyList<IReadOnlyList<int>> rows, int padId, Device? device = null)
        => TokenGenerator.LeftPad(rows, padId, device);
}

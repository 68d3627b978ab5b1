using System.Security.Cryptography;
using Jamba.Tokenization;

namespace Jamba.Training;

/// <summary>
/// Token sequences of one fixed length cut from a token stream in which every document is followed by EOS (so the
/// model learns where documents end and that the next one is unrelated). The tail shorter than one sequence is
/// dropped. Sequences are stored flat; sequence <c>i</c> is tokens <c>[i·L, (i+1)·L)</c>.
/// </summary>
public sealed class PackedDataset
{
    private readonly int[] tokens;

    /// <summary>Tokens per sequence.</summary>
    public int SequenceLength { get; }
    /// <summary>Number of sequences.</summary>
    public int Count => tokens.Length / SequenceLength;
    /// <summary>Documents that went in.</summary>
    public int DocumentCount { get; }
    /// <summary>Tokens in the stream before the tail was dropped.</summary>
    public long StreamTokens { get; }

    private PackedDataset(int[] tokens, int sequenceLength, int documents, long streamTokens)
    {
        this.tokens = tokens;
        SequenceLength = sequenceLength;
        DocumentCount = documents;
        StreamTokens = streamTokens;
    }

    /// <summary>Sequence <paramref name="index"/>.</summary>
    public ReadOnlySpan<int> this[int index] => tokens.AsSpan(index * SequenceLength, SequenceLength);

    /// <summary>
    /// Tokenises <paramref name="documents"/> (no BOS; EOS after each) and packs them into sequences of
    /// <paramref name="sequenceLength"/> tokens.
    /// </summary>
    /// <exception cref="InvalidDataException">The data has fewer tokens than one sequence; the message gives both numbers.</exception>
    public static PackedDataset Pack(IReadOnlyList<string> documents, IJambaTokenizer tokenizer, int sequenceLength)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (sequenceLength < 2) throw new ArgumentOutOfRangeException(nameof(sequenceLength), sequenceLength, "sequence length must be at least 2");
        int eos = tokenizer.EosId ?? throw new InvalidOperationException("the tokenizer has no EOS token to separate documents");
        var stream = new List<int>();
        foreach (var d in documents)
        {
            stream.AddRange(tokenizer.Encode(d));
            stream.Add(eos);
        }
        long total = stream.Count;
        if (total < sequenceLength)
            throw new InvalidDataException($"sequence length {sequenceLength} is larger than the data: {total} tokens in {documents.Count} documents");
        int count = (int)(total / sequenceLength);
        return new PackedDataset(stream.GetRange(0, count * sequenceLength).ToArray(), sequenceLength, documents.Count, total);
    }

    /// <summary>The largest token id (to check against the model's vocabulary).</summary>
    public int MaxTokenId() => tokens.Length == 0 ? -1 : tokens.Max();

    /// <summary>
    /// A SHA-256 of the sequence length and every token: resuming refuses data that changed since the checkpoint,
    /// because the saved data position would then point at different text.
    /// </summary>
    public string Fingerprint()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(BitConverter.GetBytes(SequenceLength));
        sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(tokens.AsSpan()));
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>
    /// Splits sequence indices into training and validation sets: a seeded shuffle, then the first
    /// <c>round(Count · fraction)</c> (at least one when <paramref name="validationFraction"/> &gt; 0) are held out.
    /// </summary>
    /// <exception cref="InvalidDataException">Too few sequences for both sets.</exception>
    public (int[] Train, int[] Validation) Split(double validationFraction, long seed)
    {
        if (validationFraction is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "must be in [0, 1)");
        var order = Enumerable.Range(0, Count).ToArray();
        new SplitMix64((ulong)seed ^ 0x5EEDF00DUL).Shuffle(order);
        int val = validationFraction == 0 ? 0 : Math.Max(1, (int)Math.Round(Count * validationFraction));
        if (Count - val < 1)
            throw new InvalidDataException($"the data gives only {Count} sequence(s) of {SequenceLength} tokens ({StreamTokens} tokens): too few for a training and a validation set; lower --seq-len or add data");
        return (order[val..], order[..val]);
    }
}

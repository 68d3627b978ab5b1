namespace Jamba.Training;

/// <summary>
/// Hands out training batches: each epoch is a fresh permutation of the training sequences, drawn from
/// (seed, epoch) alone, and cut into batches; a last partial batch is skipped. The position (epoch, cursor) is all
/// the state there is, so a resumed run continues with exactly the batches an uninterrupted one would have seen.
/// </summary>
public sealed class BatchSampler
{
    private readonly int[] sequences;
    private readonly long seed;
    private int[] order;

    /// <summary>Sequences per batch.</summary>
    public int BatchSize { get; }
    /// <summary>The current epoch (0-based).</summary>
    public int Epoch { get; private set; }
    /// <summary>Index into the current epoch's permutation of the next batch's first sequence.</summary>
    public int Cursor { get; private set; }

    /// <summary>Samples from <paramref name="sequences"/> (dataset indices) with <paramref name="seed"/>.</summary>
    /// <exception cref="InvalidDataException">There are fewer sequences than one batch.</exception>
    public BatchSampler(int[] sequences, int batchSize, long seed)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be >= 1");
        if (sequences.Length < batchSize)
            throw new InvalidDataException($"only {sequences.Length} training sequence(s) but a batch needs {batchSize}; lower --batch or --seq-len, or add data");
        this.sequences = sequences;
        this.seed = seed;
        BatchSize = batchSize;
        order = Permutation(0);
    }

    /// <summary>Moves to a saved position.</summary>
    public void Restore(int epoch, int cursor)
    {
        if (epoch < 0 || cursor < 0 || cursor > sequences.Length) throw new ArgumentOutOfRangeException(nameof(cursor), $"position ({epoch}, {cursor}) is invalid for {sequences.Length} sequences");
        Epoch = epoch;
        Cursor = cursor;
        order = Permutation(epoch);
    }

    /// <summary>The dataset indices of the next batch.</summary>
    public int[] Next()
    {
        if (Cursor + BatchSize > order.Length)
        {
            Epoch++;
            Cursor = 0;
            order = Permutation(Epoch);
        }
        var batch = order.AsSpan(Cursor, BatchSize).ToArray();
        Cursor += BatchSize;
        return batch;
    }

    private int[] Permutation(int epoch)
    {
        var p = (int[])sequences.Clone();
        new SplitMix64((ulong)seed * 0x100000001B3UL + (ulong)epoch + 1).Shuffle(p);
        return p;
    }
}

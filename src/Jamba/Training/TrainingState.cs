using System.Text.Json;
using Jamba.Checkpoints;

namespace Jamba.Training;

/// <summary>
/// The resumable part of a checkpoint besides the weights: <c>training_state.json</c> (step, data position,
/// early-stopping counters, options, log history, data fingerprint) and <c>optimizer.safetensors</c> (AdamW
/// moments, per-parameter steps, float32 master weights, torch's generator state). JSON and safetensors only,
/// never pickle, so a checkpoint can be inspected and loaded safely anywhere.
/// </summary>
public sealed class TrainingState
{
    /// <summary>The JSON file name inside a checkpoint folder.</summary>
    public const string StateFile = "training_state.json";
    /// <summary>The optimiser safetensors file name inside a checkpoint folder.</summary>
    public const string OptimizerFile = "optimizer.safetensors";
    /// <summary>The tensor name of torch's default generator state inside <see cref="OptimizerFile"/>.</summary>
    public const string RngTensorName = "rng.torch_cpu";

    /// <summary>Layout version of this file.</summary>
    public int FormatVersion { get; set; } = 1;
    /// <summary>Updates taken.</summary>
    public long Step { get; set; }
    /// <summary>Data epoch of the next batch.</summary>
    public int Epoch { get; set; }
    /// <summary>Position in the epoch's permutation of the next batch.</summary>
    public int Cursor { get; set; }
    /// <summary>Training tokens consumed.</summary>
    public long TokensSeen { get; set; }
    /// <summary>Training wall time so far, seconds.</summary>
    public double ElapsedSeconds { get; set; }
    /// <summary>Lowest validation loss so far.</summary>
    public double? BestValidationLoss { get; set; }
    /// <summary>Evaluations since the last new best (for early stopping).</summary>
    public int EvaluationsWithoutImprovement { get; set; }
    /// <summary>SHA-256 of the packed data (see <see cref="PackedDataset.Fingerprint"/>).</summary>
    public string DataFingerprint { get; set; } = "";
    /// <summary>The tokenizer used to build the data (<c>byte</c> or a file name), for information.</summary>
    public string? Tokenizer { get; set; }
    /// <summary>The data path the run was started with (lets <c>jamba train --resume</c> find it again).</summary>
    public string? DataPath { get; set; }
    /// <summary>The data format name (<c>auto</c>, <c>text</c>, <c>jsonl</c>, <c>tsv</c>).</summary>
    public string? DataFormat { get; set; }
    /// <summary>The JSONL field / TSV column holding the text.</summary>
    public string? TextColumn { get; set; }
    /// <summary>The run's options.</summary>
    public TrainingOptions Options { get; set; } = new();
    /// <summary>Every log row up to <see cref="Step"/>.</summary>
    public List<TrainingLogEntry> History { get; set; } = new();

    /// <summary>Writes <see cref="StateFile"/> into <paramref name="dir"/> (atomically).</summary>
    public void Save(string dir) => AtomicFile.WriteAllText(Path.Combine(dir, StateFile), JsonSerializer.Serialize(this, TrainingOptions.Json) + "\n");

    /// <summary>Whether <paramref name="dir"/> is a resumable checkpoint.</summary>
    public static bool IsCheckpoint(string dir) => File.Exists(Path.Combine(dir, StateFile)) && File.Exists(Path.Combine(dir, OptimizerFile));

    /// <summary>Reads <see cref="StateFile"/> from <paramref name="dir"/>.</summary>
    /// <exception cref="CheckpointException">The folder is not a resumable checkpoint or the file is malformed.</exception>
    public static TrainingState Load(string dir)
    {
        string path = Path.Combine(dir, StateFile);
        if (!File.Exists(path)) throw new CheckpointException($"{dir} is not a resumable checkpoint: it has no {StateFile}", path);
        if (!File.Exists(Path.Combine(dir, OptimizerFile))) throw new CheckpointException($"{dir} is not a resumable checkpoint: it has no {OptimizerFile}", path);
        try
        {
            var s = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(path), TrainingOptions.Json) ?? throw new JsonException("null");
            if (s.FormatVersion != 1) throw new CheckpointException($"{path} has format version {s.FormatVersion}; this library reads version 1", path);
            return s;
        }
        catch (JsonException e) { throw new CheckpointException($"{path} is not a valid training state ({e.Message.ReplaceLineEndings(" ")})", path, e); }
    }

    /// <summary>
    /// Finds the checkpoint to resume from: <paramref name="dir"/> itself when it is one, else its
    /// <c>checkpoint-NNNNNN</c> subfolder with the highest step.
    /// </summary>
    /// <exception cref="CheckpointException">Neither is found.</exception>
    public static string Locate(string dir)
    {
        if (!Directory.Exists(dir)) throw new CheckpointException($"resume folder not found: {dir}", dir);
        if (IsCheckpoint(dir)) return dir;
        var latest = Directory.EnumerateDirectories(dir, CheckpointPrefix + "*")
            .Where(IsCheckpoint)
            .Select(d => (d, step: long.TryParse(Path.GetFileName(d)[CheckpointPrefix.Length..], out long n) ? n : -1))
            .Where(x => x.step >= 0)
            .OrderByDescending(x => x.step)
            .FirstOrDefault();
        return latest.d ?? throw new CheckpointException($"{dir} holds no resumable checkpoint ({StateFile} + {OptimizerFile}, or {CheckpointPrefix}N folders with them)", dir);
    }

    /// <summary>Prefix of step checkpoint folders in an output folder.</summary>
    public const string CheckpointPrefix = "checkpoint-";

    /// <summary>The folder name of the checkpoint at <paramref name="step"/>.</summary>
    public static string CheckpointName(long step) => $"{CheckpointPrefix}{step:D6}";
}

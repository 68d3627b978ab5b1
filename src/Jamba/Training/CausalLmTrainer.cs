using System.Diagnostics;
using Jamba.Checkpoints;
using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Training;

/// <summary>
/// Trains or fine-tunes a <see cref="JambaModel"/> causal LM on a <see cref="PackedDataset"/>: AdamW with
/// weight-decay groups, warm-up + cosine schedule, gradient clipping and accumulation, the router load-balancing
/// loss on MoE models, periodic evaluation, early stopping, and atomic resumable checkpoints.
/// </summary>
/// <remarks>
/// Determinism: the data split, the batch order (<see cref="BatchSampler"/>) and torch's generator all derive from
/// <see cref="TrainingOptions.Seed"/>, so on CPU the same seed gives the same losses; resuming restores every one of
/// these states, so an interrupted run continues with the loss curve of an uninterrupted one.
/// The trainer works on the model's device and dtype (<see cref="TrainingOptions.Device"/> and
/// <see cref="TrainingOptions.DType"/> say where <c>jamba train</c> puts the model). The constructor seeds torch's
/// global generator with the seed.
/// Precision: with <c>DType = bf16</c> (or f16) the model's parameters are bf16 (forward and backward in bf16) and
/// AdamW keeps float32 master weights and moments; the loss and logits are float32 (the LM head output is upcast).
/// </remarks>
public sealed class CausalLmTrainer : IDisposable
{
    private readonly JambaModel model;
    private readonly JambaForCausalLM lm;
    private readonly PackedDataset data;
    private readonly int[] validation;
    private readonly BatchSampler sampler;
    private readonly AdamW optimizer;
    private readonly LearningRateSchedule schedule;
    private readonly bool routerLoss;
    private readonly TrainingState state;
    private readonly Stopwatch clock = new();
    private double elapsedBefore;

    /// <summary>The run's options.</summary>
    public TrainingOptions Options { get; }
    /// <summary>Where checkpoints and <c>loss.csv</c> are written; null writes nothing.</summary>
    public string? OutputDirectory { get; set; }
    /// <summary>Updates taken so far.</summary>
    public long Step => state.Step;
    /// <summary>Every log row so far (one per update, plus evaluation rows).</summary>
    public IReadOnlyList<TrainingLogEntry> History => state.History;
    /// <summary>The optimiser (for inspection).</summary>
    public AdamW Optimizer => optimizer;
    /// <summary>Where the data came from, recorded in checkpoints so a resume can find it: path, format, text column.</summary>
    public void SetDataSource(string? path, string? format, string? textColumn)
    {
        state.DataPath = path is null ? null : Path.GetFullPath(path);
        state.DataFormat = format;
        state.TextColumn = textColumn;
    }

    /// <summary>Number of training sequences.</summary>
    public int TrainSequences { get; }
    /// <summary>Number of validation sequences.</summary>
    public int ValidationSequences => validation.Length;
    /// <summary>Whether the load-balancing loss is part of the training loss (MoE model and option on).</summary>
    public bool UsesRouterLoss => routerLoss;
    /// <summary>Training wall time so far (including time before a resume), seconds.</summary>
    public double ElapsedSeconds => elapsedBefore + clock.Elapsed.TotalSeconds;

    /// <summary>Raised after each update with its row.</summary>
    public event Action<TrainingLogEntry>? StepCompleted;
    /// <summary>Raised after each evaluation with its row.</summary>
    public event Action<TrainingLogEntry>? Evaluated;
    /// <summary>Raised after a checkpoint folder has been written, with its path.</summary>
    public event Action<string>? CheckpointSaved;
    /// <summary>
    /// Raised after <c>loss.csv</c> has been rewritten (at each evaluation, checkpoint and the end of a run), with
    /// the whole history, so an application can redraw its own view of it (the CLI's <c>loss.png</c>).
    /// </summary>
    public event Action<IReadOnlyList<TrainingLogEntry>>? CurvesWritten;

    /// <summary>
    /// Prepares training of <paramref name="model"/> (a causal LM; its parameters are trained in place) on
    /// <paramref name="data"/>. The data split and batch order come from <paramref name="options"/>.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid, or the model is not on the options' device/dtype.</exception>
    /// <exception cref="InvalidDataException">The data is too small for the split or a batch, or has ids outside the vocabulary.</exception>
    /// <exception cref="InvalidOperationException">The model is quantized (inference-only).</exception>
    public CausalLmTrainer(JambaModel model, PackedDataset data, TrainingOptions options, string? tokenizerName = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        model.EnsureTrainable();
        lm = model.CausalLM ?? throw new ArgumentException("causal-LM training needs a JambaForCausalLM checkpoint; this one is a sequence classifier");
        if (data.SequenceLength != options.SequenceLength)
            throw new ArgumentException($"the data is packed into sequences of {data.SequenceLength} tokens but the options say {options.SequenceLength}");
        int maxId = data.MaxTokenId();
        if (maxId >= model.Config.VocabSize)
            throw new InvalidDataException($"the data has token id {maxId} but the model's vocabulary has {model.Config.VocabSize} ids; use a matching tokenizer");
        this.model = model;
        this.data = data;
        Options = options.Clone();
        var (train, val) = data.Split(options.ValidationFraction, options.Seed);
        validation = val;
        TrainSequences = train.Length;
        sampler = new BatchSampler(train, options.BatchSize, options.Seed);
        schedule = options.Schedule();
        routerLoss = options.RouterAuxLoss && Enumerable.Range(0, model.Config.NumHiddenLayers).Any(model.Config.IsMoeLayer);
        optimizer = AdamW.ForModule(model.Network, options.WeightDecay, options.Beta1, options.Beta2, options.Epsilon);
        state = new TrainingState { Options = Options.Clone(), DataFingerprint = data.Fingerprint(), Tokenizer = tokenizerName };
        torch.random.manual_seed(options.Seed);
    }

    /// <summary>
    /// Restores the optimiser, step, data position, generator, counters and history from a checkpoint written by
    /// <see cref="SaveCheckpoint"/>. The model must hold that checkpoint's weights (load it with
    /// <see cref="JambaModel.Load"/>). The data and the settings that shape it must be the ones of the original run.
    /// </summary>
    /// <exception cref="CheckpointException">Not a resumable checkpoint, or it does not fit this model.</exception>
    /// <exception cref="InvalidDataException">The data or its settings differ from the checkpoint's.</exception>
    public void Resume(string checkpointDir)
    {
        var saved = TrainingState.Load(checkpointDir);
        var so = saved.Options;
        void Same<T>(T a, T b, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(a, b))
                throw new InvalidDataException($"{what} is {b} but the checkpoint was trained with {a}; a resumed run must keep the data settings");
        }
        Same(so.SequenceLength, Options.SequenceLength, "the sequence length");
        Same(so.BatchSize, Options.BatchSize, "the batch size");
        Same(so.ValidationFraction, Options.ValidationFraction, "the validation fraction");
        Same(so.Seed, Options.Seed, "the seed");
        if (saved.DataFingerprint != state.DataFingerprint)
            throw new InvalidDataException($"the training data differs from the data of the checkpoint in {checkpointDir} (token fingerprint mismatch); resume with the same data and tokenizer");

        var tensors = SafeTensors.Load(Path.Combine(checkpointDir, TrainingState.OptimizerFile));
        try
        {
            if (tensors.Remove(TrainingState.RngTensorName, out var rng))
            {
                torch.random.set_rng_state(rng);
                rng.Dispose();
            }
            optimizer.LoadStateDict(tensors);
        }
        catch (InvalidDataException e) { throw new CheckpointException($"{checkpointDir}: {e.Message}", checkpointDir, e); }
        finally { foreach (var t in tensors.Values) t.Dispose(); }

        sampler.Restore(saved.Epoch, saved.Cursor);
        state.Step = saved.Step;
        state.Epoch = saved.Epoch;
        state.Cursor = saved.Cursor;
        state.TokensSeen = saved.TokensSeen;
        state.ElapsedSeconds = saved.ElapsedSeconds;
        state.BestValidationLoss = saved.BestValidationLoss;
        state.EvaluationsWithoutImprovement = saved.EvaluationsWithoutImprovement;
        state.History = saved.History.Where(h => h.Step <= saved.Step).ToList();
        state.DataPath ??= saved.DataPath;
        state.DataFormat ??= saved.DataFormat;
        state.TextColumn ??= saved.TextColumn;
        elapsedBefore = saved.ElapsedSeconds;
    }

    /// <summary>
    /// Trains until <see cref="TrainingOptions.Steps"/> updates, early stopping, or cancellation (checked between
    /// updates; a run already at its last step returns at once). Evaluates at the start (fresh runs), every <see cref="TrainingOptions.EvalEvery"/> updates and at the
    /// end; checkpoints every <see cref="TrainingOptions.SaveEvery"/> updates and always at the end, also when
    /// cancelled, when <see cref="OutputDirectory"/> is set.
    /// </summary>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite.</exception>
    public TrainingResult Run(CancellationToken cancellationToken = default)
    {
        bool interrupted = false, earlyStopped = false, trained = false;
        string? lastCheckpoint = null;
        long lastSaved = -1, lastEval = state.History.LastOrDefault(h => h.ValidationLoss is not null)?.Step ?? -1;
        clock.Restart();
        try
        {
            if (state.Step == 0 && state.History.Count == 0 && validation.Length > 0)
            {
                RecordEvaluation(null);
                lastEval = 0;
            }
            while (state.Step < Options.Steps)
            {
                if (cancellationToken.IsCancellationRequested) { interrupted = true; break; }
                var entry = TrainStep();
                trained = true;
                bool evalNow = validation.Length > 0 && Options.EvalEvery > 0 && state.Step % Options.EvalEvery == 0;
                if (evalNow)
                {
                    entry = RecordEvaluation(entry);
                    lastEval = state.Step;
                    if (Options.EarlyStoppingPatience > 0 && state.EvaluationsWithoutImprovement >= Options.EarlyStoppingPatience)
                    {
                        earlyStopped = true;
                        break;
                    }
                }
                else state.History.Add(entry);
                StepCompleted?.Invoke(entry);
                if (OutputDirectory is not null && Options.SaveEvery > 0 && state.Step % Options.SaveEvery == 0 && state.Step < Options.Steps)
                {
                    lastCheckpoint = SaveStepCheckpoint();
                    lastSaved = state.Step;
                }
            }
            if (earlyStopped) StepCompleted?.Invoke(state.History[^1]);
            if (trained && !interrupted && validation.Length > 0 && lastEval != state.Step)
            {
                // The final row gets the end-of-run validation numbers.
                var last = state.History.Count > 0 && state.History[^1].Step == state.Step ? state.History[^1] : null;
                if (last is not null) state.History.RemoveAt(state.History.Count - 1);
                RecordEvaluation(last);
            }
            // A run that took no step (resumed at its end) has nothing new to save.
            if (OutputDirectory is not null && trained && lastSaved != state.Step) lastCheckpoint = SaveStepCheckpoint();
        }
        finally
        {
            clock.Stop();
        }
        WriteCurves();
        return new TrainingResult(state.Step, interrupted, earlyStopped, lastCheckpoint, state.BestValidationLoss);
    }

    /// <summary>One update: accumulate gradients over the micro-batches, clip, step, and return the row.</summary>
    private TrainingLogEntry TrainStep()
    {
        var started = Stopwatch.GetTimestamp();
        lm.train();
        optimizer.ZeroGrad();
        double lr = schedule.At(state.Step + 1);
        double loss = 0, lmLoss = 0, aux = 0;
        int accum = Options.GradientAccumulation;
        for (int a = 0; a < accum; a++)
        {
            using var scope = NewDisposeScope();
            using var ids = Batch(sampler.Next());
            using var output = lm.Forward(ids, labels: ids, outputRouterLogits: routerLoss);
            var total = output.Loss!;
            double value = total.to_type(ScalarType.Float32).cpu().item<float>();
            if (!double.IsFinite(value))
                throw new InvalidOperationException($"the training loss became {value} at step {state.Step + 1}; lower the learning rate (--lr) or use f32");
            loss += value / accum;
            lmLoss += output.LmLoss!.to_type(ScalarType.Float32).cpu().item<float>() / accum;
            if (output.AuxLoss is not null) aux += output.AuxLoss.to_type(ScalarType.Float32).cpu().item<float>() / accum;
            (accum == 1 ? total : total / accum).backward();
        }
        double gradNorm;
        using (NewDisposeScope())
        {
            gradNorm = GradientClipping.ClipByGlobalNorm(optimizer.Parameters, Options.ClipNorm);
            optimizer.Step(lr);
        }
        optimizer.ZeroGrad();
        state.Step++;
        state.Epoch = sampler.Epoch;
        state.Cursor = sampler.Cursor;
        long tokens = (long)Options.BatchSize * accum * Options.SequenceLength;
        state.TokensSeen += tokens;
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new TrainingLogEntry
        {
            Step = state.Step, Epoch = sampler.Epoch, Loss = loss, LmLoss = lmLoss, AuxLoss = routerLoss ? aux : null,
            LearningRate = lr, GradNorm = gradNorm, TokensPerSecond = tokens / Math.Max(seconds, 1e-9),
        };
    }

    private Tensor Batch(int[] indices)
    {
        int L = data.SequenceLength;
        var flat = new long[indices.Length * L];
        for (int b = 0; b < indices.Length; b++)
        {
            var seq = data[indices[b]];
            for (int t = 0; t < L; t++) flat[b * L + t] = seq[t];
        }
        return tensor(flat, new long[] { indices.Length, L }, device: model.Device);
    }

    /// <summary>
    /// Mean causal-LM cross-entropy over the validation sequences (every predicted token weighs the same; router
    /// loss not included) and its perplexity. The model is left in eval mode.
    /// </summary>
    public (double Loss, double Perplexity) Evaluate()
    {
        if (validation.Length == 0) throw new InvalidOperationException("there is no validation set (validation fraction 0)");
        lm.eval();
        using var _ = no_grad();
        double sum = 0;
        long count = 0;
        for (int i = 0; i < validation.Length; i += Options.BatchSize)
        {
            using var scope = NewDisposeScope();
            var idx = validation.AsSpan(i, Math.Min(Options.BatchSize, validation.Length - i)).ToArray();
            using var ids = Batch(idx);
            using var output = lm.Forward(ids, labels: ids, outputRouterLogits: false);
            long n = idx.Length * (long)(data.SequenceLength - 1);
            sum += output.LmLoss!.to_type(ScalarType.Float64).cpu().item<double>() * n;
            count += n;
        }
        double loss = sum / count;
        return (loss, Math.Exp(loss));
    }

    private TrainingLogEntry RecordEvaluation(TrainingLogEntry? entry)
    {
        var (loss, ppl) = Evaluate();
        if (state.BestValidationLoss is not double best || loss < best)
        {
            state.BestValidationLoss = loss;
            state.EvaluationsWithoutImprovement = 0;
        }
        else state.EvaluationsWithoutImprovement++;
        var row = (entry ?? new TrainingLogEntry { Step = state.Step, Epoch = sampler.Epoch }) with { ValidationLoss = loss, ValidationPerplexity = ppl };
        state.History.Add(row);
        Evaluated?.Invoke(row);
        WriteCurves();
        return row;
    }

    private string SaveStepCheckpoint()
    {
        string dir = Path.Combine(OutputDirectory!, TrainingState.CheckpointName(state.Step));
        SaveCheckpoint(dir);
        PruneCheckpoints();
        WriteCurves();
        return dir;
    }

    /// <summary>
    /// Writes a resumable checkpoint to <paramref name="dir"/>, atomically: the weights in the reference format
    /// (<c>config.json</c> + <c>model.safetensors</c>, loadable by transformers and <see cref="JambaModel.Load"/>),
    /// <see cref="TrainingState.StateFile"/> and <see cref="TrainingState.OptimizerFile"/> all go into a temporary
    /// sibling folder that is renamed into place, so an interruption never leaves a partial checkpoint.
    /// </summary>
    public void SaveCheckpoint(string dir)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        string full = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        string parent = Path.GetDirectoryName(full)!;
        string leaf = Path.GetFileName(full);
        Directory.CreateDirectory(parent);
        string tmp = Path.Combine(parent, $".{leaf}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            model.Save(tmp);
            var tensors = optimizer.StateViews();
            try
            {
                tensors[TrainingState.RngTensorName] = torch.random.get_rng_state();
                SafeTensors.Save(Path.Combine(tmp, TrainingState.OptimizerFile), tensors.OrderBy(p => p.Key, StringComparer.Ordinal));
            }
            finally { foreach (var t in tensors.Values) t.Dispose(); }
            state.ElapsedSeconds = ElapsedSeconds;
            state.Save(tmp);
            if (Directory.Exists(full))
            {
                string old = Path.Combine(parent, $".{leaf}.old-{Environment.ProcessId}-{Guid.NewGuid():N}");
                Directory.Move(full, old);
                Directory.Move(tmp, full);
                Directory.Delete(old, recursive: true);
            }
            else Directory.Move(tmp, full);
        }
        catch
        {
            try { if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true); } catch (IOException) { }
            throw;
        }
        CheckpointSaved?.Invoke(full);
    }

    private void PruneCheckpoints()
    {
        if (Options.KeepCheckpoints <= 0 || OutputDirectory is null) return;
        var old = Directory.EnumerateDirectories(OutputDirectory, TrainingState.CheckpointPrefix + "*")
            .Where(TrainingState.IsCheckpoint)
            .OrderByDescending(d => long.TryParse(Path.GetFileName(d)[TrainingState.CheckpointPrefix.Length..], out long n) ? n : -1)
            .Skip(Options.KeepCheckpoints);
        foreach (var d in old)
        {
            try { Directory.Delete(d, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Rewrites <c>loss.csv</c> in the output folder from the history.</summary>
    private void WriteCurves()
    {
        if (OutputDirectory is null || state.History.Count == 0) return;
        Directory.CreateDirectory(OutputDirectory);
        LossCurve.WriteCsv(state.History, Path.Combine(OutputDirectory, LossCurve.CsvFile));
        CurvesWritten?.Invoke(state.History);
    }

    /// <summary>Frees the optimiser state (the model belongs to the caller).</summary>
    public void Dispose() => optimizer.Dispose();
}

using System.Globalization;

using Jamba.Training;

namespace Jamba.Cli;

/// <summary>
/// Shows training progress. In an interactive terminal: one live line redrawn in place (bar, step, loss, learning
/// rate, tokens/s, ETA), with evaluations and checkpoints printed above it. When output is redirected or the
/// <c>CI</c> environment variable is set: plain log lines every <see cref="LogEvery"/> steps, which read well in
/// log files.
/// </summary>
public sealed class ProgressReporter
{
    private readonly TextWriter output;
    private readonly long totalSteps;
    private readonly DateTime started = DateTime.UtcNow;
    private readonly long startStep;
    private double smoothedTokensPerSecond;
    private bool lineOpen;

    /// <summary>Whether the live bar is used (otherwise plain lines).</summary>
    public bool Interactive { get; }
    /// <summary>Plain-mode interval in steps (default 10).</summary>
    public int LogEvery { get; set; } = 10;

    /// <summary>Reports to <paramref name="output"/> for a run of <paramref name="totalSteps"/> updates starting at <paramref name="startStep"/>.</summary>
    public ProgressReporter(TextWriter output, long totalSteps, long startStep = 0, bool? interactive = null)
    {
        this.output = output;
        this.totalSteps = totalSteps;
        this.startStep = startStep;
        Interactive = interactive ?? (!Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")));
    }

    /// <summary>Subscribes to a trainer's events.</summary>
    public void Attach(CausalLmTrainer trainer)
    {
        trainer.StepCompleted += OnStep;
        trainer.Evaluated += OnEvaluation;
        trainer.CheckpointSaved += dir => Message($"checkpoint {dir}");
    }

    /// <summary>Handles an update row.</summary>
    public void OnStep(TrainingLogEntry e)
    {
        if (e.TokensPerSecond is double tps)
            smoothedTokensPerSecond = smoothedTokensPerSecond == 0 ? tps : 0.9 * smoothedTokensPerSecond + 0.1 * tps;
        string eta = Eta(e.Step);
        string stats = string.Create(CultureInfo.InvariantCulture,
            $"step {e.Step}/{totalSteps}  loss {e.Loss:F4}  lr {e.LearningRate:0.###e+0}  {smoothedTokensPerSecond:N0} tok/s  ETA {eta}");
        if (Interactive)
        {
            const int Width = 24;
            int filled = (int)Math.Round(Width * Math.Clamp((double)e.Step / totalSteps, 0, 1));
            output.Write("\r[" + new string('#', filled) + new string('.', Width - filled) + "] " + stats + "   ");
            output.Flush();
            lineOpen = true;
        }
        else if (e.Step % LogEvery == 0 || e.Step == totalSteps || e.Step == startStep + 1)
        {
            output.WriteLine(stats);
        }
    }

    /// <summary>Handles an evaluation row.</summary>
    public void OnEvaluation(TrainingLogEntry e) =>
        Message(string.Create(CultureInfo.InvariantCulture, $"eval step {e.Step}: val loss {e.ValidationLoss:F4}  perplexity {e.ValidationPerplexity:F2}"));

    /// <summary>Prints a line above the live bar (or as a plain line).</summary>
    public void Message(string text)
    {
        if (lineOpen) { output.Write("\r" + new string(' ', Math.Max(0, Console.IsOutputRedirected ? 0 : SafeWidth() - 1)) + "\r"); lineOpen = false; }
        output.WriteLine(text);
        output.Flush();
    }

    /// <summary>Ends the live line.</summary>
    public void Finish()
    {
        if (lineOpen) { output.WriteLine(); lineOpen = false; }
    }

    private string Eta(long step)
    {
        long done = step - startStep;
        if (done <= 0) return "?";
        double perStep = (DateTime.UtcNow - started).TotalSeconds / done;
        var left = TimeSpan.FromSeconds(perStep * Math.Max(0, totalSteps - step));
        return left.TotalHours >= 1 ? $"{(int)left.TotalHours}h{left.Minutes:D2}m" : $"{left.Minutes}m{left.Seconds:D2}s";
    }

    private static int SafeWidth()
    {
        try { return Math.Clamp(Console.WindowWidth, 20, 400); } catch (IOException) { return 120; }
    }
}

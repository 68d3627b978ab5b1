using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML;

namespace Jamba.Quickstart;

/// <summary>One progress report of the Jamba trainer: the mean training loss of the steps since the previous one.</summary>
public sealed record LossPoint(int Step, int Epoch, double Loss, double TokensPerSecond);

/// <summary>
/// Collects the Jamba trainer's progress reports from <see cref="MLContext.Log"/> for the loss curve and prints one line
/// per epoch. ML.NET trainers report progress only through that log (there is no callback in the estimator
/// API), so this reads the trainer's documented message format: <c>epoch E/N step S/T loss L … tokens/s R</c>.
/// </summary>
public sealed partial class TrainingLossLog : IDisposable
{
    private readonly MLContext ml;
    private readonly TextWriter? echo;
    private readonly List<LossPoint> points = new();

    /// <summary>Starts listening to <paramref name="ml"/>'s log; messages are echoed to <paramref name="echo"/> when given.</summary>
    public TrainingLossLog(MLContext ml, TextWriter? echo)
    {
        this.ml = ml;
        this.echo = echo;
        ml.Log += OnLog;
    }

    /// <summary>The reports so far, in order (end-of-epoch summaries excluded, so every point averages full steps).</summary>
    public IReadOnlyList<LossPoint> Points => points;

    private void OnLog(object? sender, LoggingEventArgs e)
    {
        if (e.Kind != Microsoft.ML.Runtime.ChannelMessageKind.Info || !e.Source.StartsWith("Jamba", StringComparison.Ordinal)) return;
        string message = e.RawMessage;
        var m = Progress().Match(message);
        if (!m.Success) return;
        int epoch = int.Parse(m.Groups["epoch"].Value, CultureInfo.InvariantCulture);
        if (message.Contains("(end of epoch)", StringComparison.Ordinal))
        {
            // One console line per epoch; the per-step reports go to the loss curve only.
            var inEpoch = points.Where(p => p.Epoch == epoch).ToList();
            if (inEpoch.Count > 0)
                echo?.WriteLine($"       epoch {epoch}/{m.Groups["epochs"].Value}: mean training loss {inEpoch.Average(p => p.Loss):F3}, " +
                    $"{inEpoch.Where(p => double.IsFinite(p.TokensPerSecond)).Select(p => p.TokensPerSecond).DefaultIfEmpty(double.NaN).Average():F0} tokens/s");
            return;
        }
        if (!m.Groups["loss"].Success) return;
        points.Add(new LossPoint(int.Parse(m.Groups["step"].Value, CultureInfo.InvariantCulture), epoch,
            double.Parse(m.Groups["loss"].Value.Replace(',', '.'), CultureInfo.InvariantCulture),
            m.Groups["tps"].Success ? double.Parse(m.Groups["tps"].Value, CultureInfo.InvariantCulture) : double.NaN));
    }

    // The trainer formats numbers in the current culture, hence the comma in the loss pattern.
    [GeneratedRegex(@"epoch (?<epoch>\d+)/(?<epochs>\d+) step (?<step>\d+)/\d+(?: \(end of epoch\))?(?: loss (?<loss>[0-9]+[.,][0-9]+))?(?:.*?tokens/s (?<tps>[0-9]+))?", RegexOptions.CultureInvariant)]
    private static partial Regex Progress();

    /// <summary>Stops listening.</summary>
    public void Dispose() => ml.Log -= OnLog;
}

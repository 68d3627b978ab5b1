using Jamba.Inference;
using Jamba.MLNet.Internal;
using Microsoft.ML;

namespace Jamba.MLNet;

/// <summary>Options of <see cref="JambaTransformsCatalog.EvaluateLanguageModel"/>.</summary>
public sealed class JambaLanguageModelEvaluationOptions
{
    /// <summary>Most tokens per text, BOS included (0: no limit). Default 1024.</summary>
    public int MaxTokens { get; set; } = 1024;
    /// <summary>Which tokens survive truncation. Default: keep the start.</summary>
    public TruncationPolicy Truncation { get; set; } = TruncationPolicy.KeepStart;
    /// <summary>Start texts with BOS, so the first text token is predicted too. Default true.</summary>
    public bool AddBos { get; set; } = true;
    /// <summary>Rows per forward pass. Default 8.</summary>
    public int BatchSize { get; set; } = 8;
}

/// <summary>
/// Language-model quality on a text column: the mean next-token cross-entropy over all predicted tokens of all rows
/// (a token-weighted mean, as perplexity is usually reported), and the same in bits and as perplexity.
/// </summary>
public sealed class JambaLanguageModelMetrics
{
    internal JambaLanguageModelMetrics(double nll, long tokens, long rows)
    {
        TokenCount = tokens;
        RowCount = rows;
        CrossEntropy = tokens > 0 ? nll / tokens : double.NaN;
    }

    /// <summary>Mean negative log-likelihood per predicted token, in nats.</summary>
    public double CrossEntropy { get; }
    /// <summary>Mean negative log-likelihood per predicted token, in bits (nats / ln 2).</summary>
    public double BitsPerToken => CrossEntropy / Math.Log(2);
    /// <summary>exp(CrossEntropy).</summary>
    public double Perplexity => Math.Exp(CrossEntropy);
    /// <summary>Predicted tokens counted (with BOS on, every text token).</summary>
    public long TokenCount { get; }
    /// <summary>Rows read (empty rows count here but add no tokens).</summary>
    public long RowCount { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"cross-entropy {CrossEntropy:F4} nats/token ({BitsPerToken:F4} bits/token), perplexity {Perplexity:F3}, {TokenCount} tokens in {RowCount} rows";

    internal static JambaLanguageModelMetrics Evaluate(IDataView data, JambaModel model, string textColumnName, JambaLanguageModelEvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(model);
        var lm = model.CausalLM ?? throw new InvalidOperationException($"EvaluateLanguageModel needs a causal LM (JambaForCausalLM); the model is a {model.Network.GetType().Name}");
        var tokenizer = model.RequireTokenizer();
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be at least 1");
        var column = SchemaChecks.Check(data.Schema, "Jamba EvaluateLanguageModel", "text", textColumnName, ColumnExpectation.Text);
        double nll = 0;
        long tokens = 0, rows = 0;
        var batch = new List<IReadOnlyList<int>>();
        void Flush()
        {
            if (batch.Count == 0) return;
            using (TorchSharp.torch.NewDisposeScope())
                foreach (var loss in LanguageModelScoring.Score(lm, batch))
                {
                    nll += loss.NegativeLogLikelihood;
                    tokens += loss.TokenCount;
                }
            batch.Clear();
        }
        using (var cursor = data.GetRowCursor(new[] { column }))
        {
            var read = ColumnReaders.Text(cursor, column);
            while (cursor.MoveNext())
            {
                rows++;
                batch.Add(TextEncoding.Encode(tokenizer, (string?)read(), options.MaxTokens, options.Truncation, options.AddBos));
                if (batch.Count == options.BatchSize) Flush();
            }
        }
        Flush();
        return new JambaLanguageModelMetrics(nll, tokens, rows);
    }
}

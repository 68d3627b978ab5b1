using Jamba.Inference;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace Jamba.MLNet;

/// <summary>
/// The Jamba transforms, reached with <c>ml.Transforms.Jamba()</c>. Each method returns an ordinary
/// <see cref="IEstimator{TTransformer}"/> that goes into Append chains with ML.NET's own transforms. The model passed in
/// is shared, not copied: keep it alive (undisposed) while the fitted transformers are used.
/// </summary>
public sealed class JambaTransformsCatalog
{
    internal JambaTransformsCatalog(IHostEnvironment environment) => Environment = environment;

    internal IHostEnvironment Environment { get; }

    /// <summary>Token ids of a text column: a variable-size <c>Vector&lt;Int32&gt;</c>.</summary>
    /// <param name="outputColumnName">The new column.</param>
    /// <param name="inputColumnName">The text column.</param>
    /// <param name="model">The model whose tokenizer is used.</param>
    /// <param name="options">Length limit, truncation, BOS/EOS (defaults: 512 tokens, keep the start, no BOS/EOS).</param>
    public JambaEstimator<JambaTokenizingTransformer> Tokenize(string outputColumnName, string inputColumnName, JambaModel model, JambaTokenizeOptions? options = null)
    {
        var (m, output, input, o) = (Require(model), Name(outputColumnName), Name(inputColumnName), options ?? new JambaTokenizeOptions());
        return new(() => new(m, false, output, input, o));
    }

    /// <summary>Token ids of a text column, cut to <paramref name="maxTokens"/> by <paramref name="truncation"/>.</summary>
    public JambaEstimator<JambaTokenizingTransformer> Tokenize(string outputColumnName, string inputColumnName, JambaModel model, int maxTokens, TruncationPolicy truncation = TruncationPolicy.KeepStart)
        => Tokenize(outputColumnName, inputColumnName, model, new JambaTokenizeOptions { MaxTokens = maxTokens, Truncation = truncation });

    /// <summary>A sentence embedding of a text column: a <c>Vector&lt;Single, hidden_size&gt;</c> that feeds any ML.NET trainer.</summary>
    /// <param name="outputColumnName">The new column.</param>
    /// <param name="inputColumnName">The text column.</param>
    /// <param name="model">The model (causal LM or classifier; its decoder stack is used).</param>
    /// <param name="options">Pooling, normalisation, length limit, batch size (defaults: mean pooling, 512 tokens, batches of 16).</param>
    public JambaEstimator<JambaEmbeddingTransformer> Embed(string outputColumnName, string inputColumnName, JambaModel model, JambaEmbedOptions? options = null)
    {
        var (m, output, input, o) = (Require(model), Name(outputColumnName), Name(inputColumnName), options ?? new JambaEmbedOptions());
        return new(() => new(m, false, output, input, o));
    }

    /// <summary>A sentence embedding with the given pooling.</summary>
    public JambaEstimator<JambaEmbeddingTransformer> Embed(string outputColumnName, string inputColumnName, JambaModel model, EmbeddingPooling pooling, bool normalize = false)
        => Embed(outputColumnName, inputColumnName, model, new JambaEmbedOptions { Pooling = pooling, Normalize = normalize });

    /// <summary>Text generated after each prompt (a String column), with the hybrid KV + Mamba-state cache.</summary>
    /// <param name="outputColumnName">The new column (the completion only, without the prompt).</param>
    /// <param name="inputColumnName">The prompt column.</param>
    /// <param name="model">A causal LM.</param>
    /// <param name="options">Decoding settings (default: 32 greedy tokens).</param>
    public JambaEstimator<JambaGeneratingTransformer> Generate(string outputColumnName, string inputColumnName, JambaModel model, JambaGenerationOptions? options = null)
    {
        var (m, output, input, o) = (Require(model), Name(outputColumnName), Name(inputColumnName), options ?? new JambaGenerationOptions());
        return new(() => new(m, false, output, input, o));
    }

    /// <summary>
    /// Zero-/few-shot classification by label likelihood: adds <c>Score</c> (label probabilities) and <c>PredictedLabel</c>
    /// (a key over <paramref name="labels"/>). For per-row choices (multiple-choice benchmarks) pass no labels and set
    /// <see cref="JambaClassifyOptions.ChoicesColumnName"/>.
    /// </summary>
    /// <param name="inputColumnName">The text column.</param>
    /// <param name="model">A causal LM.</param>
    /// <param name="labels">The candidate labels (at least two), in key order.</param>
    /// <param name="options">Prompt template, label prefix, normalisation, column names.</param>
    public JambaEstimator<JambaClassifyingTransformer> Classify(string inputColumnName, JambaModel model, IEnumerable<string>? labels = null, JambaClassifyOptions? options = null)
    {
        var (m, input, l, o) = (Require(model), Name(inputColumnName), labels?.ToArray(), options ?? new JambaClassifyOptions());
        return new(() => new(m, false, input, l, o));
    }

    /// <summary>
    /// Cross-entropy (nats and bits per token), perplexity and token count of a causal LM on a text column. The data is
    /// streamed in batches; nothing is kept but the running sums.
    /// </summary>
    public JambaLanguageModelMetrics EvaluateLanguageModel(IDataView data, JambaModel model, string textColumnName = "Text", JambaLanguageModelEvaluationOptions? options = null)
        => JambaLanguageModelMetrics.Evaluate(data, Require(model), Name(textColumnName), options ?? new JambaLanguageModelEvaluationOptions());

    private static JambaModel Require(JambaModel model) => model ?? throw new ArgumentNullException(nameof(model), "a loaded JambaModel is required");

    private static string Name(string name, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(name))] string? parameter = null)
        => string.IsNullOrWhiteSpace(name) ? throw new ArgumentException("a column name is required", parameter) : name;
}

namespace Jamba.Quickstart;

/// <summary>One example: a text and its class label (the two columns of a quickstart TSV).</summary>
public sealed class LabeledText
{
    /// <summary>The input text.</summary>
    public string Text { get; set; } = "";

    /// <summary>The class, as text (mapped to an ML.NET key inside the pipelines).</summary>
    public string Label { get; set; } = "";
}

/// <summary>What the reloaded classifier adds to a row: the predicted class and one probability per class.</summary>
public sealed class LabelPrediction
{
    /// <summary>The predicted class, mapped back from its key to the label text.</summary>
    public string PredictedText { get; set; } = "";

    /// <summary>Class probabilities, in key order.</summary>
    public float[] Score { get; set; } = Array.Empty<float>();
}

"""Using a trained model on new videos: the model bundle, prediction, features."""

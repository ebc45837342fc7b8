"""roomcast: the shared package that every roomcast Lambda function imports from the layer."""

__version__ = "0.1.0"

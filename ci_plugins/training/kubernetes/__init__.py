"""`train.backend: kubernetes`: an Indexed Job of TensorFlow workers, launched and watched
from CI. `render` is pure (the Job, its headless Service, TF_CONFIG); `launch` applies and
deletes them with the official client; `worker` is what each pod runs."""

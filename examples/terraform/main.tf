# Platform baseline for the shop: network edge, storage, data stores.

module "network" {
  source = "./modules/network"

  vpc_id       = var.vpc_id
  office_cidrs = ["203.0.113.0/24"]
}

module "storage" {
  source = "./modules/storage"

  environment = var.environment
}

# Orders are written by the checkout service and read by reporting.
resource "aws_dynamodb_table" "orders" {
  name         = "shop-orders"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "order_id"

  attribute {
    name = "order_id"
    type = "S"
  }

  tags = {
    Name = "shop-orders"
  }
}

resource "aws_sqs_queue" "checkout_events" {
  name                       = "checkout-events"
  visibility_timeout_seconds = 60 # matches the consumer's timeout
  message_retention_seconds  = 345600
}

resource "aws_kms_key" "app" {
  description             = "Application data key"
  deletion_window_in_days = 30
  policy = <<-POLICY
    {
      "Version": "2012-10-17",
      "Statement": [{
        "Sid": "RootAccess",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "kms:*",
        "Resource": "*"
      }]
    }
  POLICY
}

resource "aws_db_instance" "reporting" {
  identifier          = "shop-reporting"
  engine              = "postgres"
  engine_version      = "15.4"
  instance_class      = "db.t3.medium"
  allocated_storage   = 50
  username            = "reporting"
  password            = var.db_password
  publicly_accessible = true # TODO: temporary, for the BI vendor
  skip_final_snapshot = true
  storage_encrypted   = false
}

resource "aws_instance" "bastion" {
  ami           = "ami-0c55b159cbfafe1f0"
  instance_type = "t3.micro"

  tags = {
    Name = "bastion"
  }
}
